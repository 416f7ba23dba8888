"""The peers `just bench` measures Keyrelay against, installed at bench time (pinned, never committed).

LiteLLM's proxy goes into its own virtualenv and Portkey's gateway into its own npm folder, both in
a temporary directory (or `--peers-dir`, kept between runs so repeated runs need not reinstall), then
each runs as one process tree on a free loopback port, pointed at the bench upstream.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

from shared.embedded import free_port, wait_for_port

LITELLM = "litellm[proxy]==1.108.7"
PORTKEY = "@portkey-ai/gateway@1.15.2"
PORTKEY_VERSION = PORTKEY.rsplit("@", 1)[1]


@dataclass
class Peer:
    name: str
    url: str  # the chat completions URL
    model: str
    headers: dict[str, str]
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def install_litellm(root: Path) -> Path:
    env_dir = root / "litellm-venv"
    exe = env_dir / "bin" / "litellm"
    if not exe.exists():
        venv.EnvBuilder(with_pip=True).create(env_dir)
        subprocess.run(
            [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", LITELLM],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return exe


def install_portkey(root: Path) -> Path:
    folder = root / "portkey"
    entry = folder / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if not entry.exists():
        folder.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            msg = "npm (Node.js) is needed for Portkey's gateway; run with --no-peers to skip the peers"
            raise RuntimeError(msg)
        (folder / "package.json").write_text('{"name": "keyrelay-bench-peers", "private": true}\n')
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", PORTKEY],
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return entry


def start_litellm(root: Path, upstream: str, log: Path) -> Peer:
    exe = install_litellm(root)
    port = free_port()
    config = root / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: sk-bench-upstream\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        "  master_key: sk-bench-litellm\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
    )
    _ready(proc, port, "LiteLLM", log)
    return Peer(
        "LiteLLM",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        "gpt-4o-mini",
        {"authorization": "Bearer sk-bench-litellm"},
        proc,
    )


def start_portkey(root: Path, upstream: str, log: Path) -> Peer:
    entry = install_portkey(root)
    node = shutil.which("node") or "node"
    port = free_port()
    proc = subprocess.Popen(
        [node, str(entry), f"--port={port}", "--headless"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "NODE_ENV": "production"},
        cwd=root,
    )
    _ready(proc, port, "Portkey", log)
    return Peer(
        "Portkey",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        "gpt-4o-mini",
        {
            "authorization": "Bearer sk-bench-upstream",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{upstream}/v1",
        },
        proc,
    )


def _ready(proc: subprocess.Popen[bytes], port: int, name: str, log: Path) -> None:
    try:
        wait_for_port(port, proc=proc, timeout_s=180)
    except Exception:
        proc.kill()
        print(f"{name} did not start; its log:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    time.sleep(1.0)  # the port opens before the app is fully up on some servers
