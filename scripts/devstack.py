"""A stack with the FAKE providers, for the demo and the benchmarks only (`just up` is the real stack)."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.embedded import Child, free_port, wait_for_port  # noqa: E402
from shared.stack import EmbeddedStack  # noqa: E402

FAKE_OPENAI_BASE = "/openai/v1"


@dataclass
class DevStack:
    stack: EmbeddedStack
    fake: Child
    fake_root: str
    provider_key: str

    def info(self) -> dict[str, str]:
        return {
            "gateway_url": self.stack.gateway_url,
            "nats_url": self.stack.nats_url,
            "mongodb_uri": self.stack.mongodb_uri,
            "fake_root": self.fake_root,
            "provider_key": self.provider_key,
            "logs": str(self.stack.logs),
        }

    def stop(self) -> None:
        self.stack.stop()
        self.fake.stop()


def start(data_dir: Path, http_port: int = 8080, *, nats_port: int = 0, mongo_port: int = 0) -> DevStack:
    data_dir.mkdir(parents=True, exist_ok=True)
    provider_key = "sk-demo-" + secrets.token_hex(16)
    fake_port = free_port()
    fake = Child(
        "fake-providers",
        [
            sys.executable,
            "-m",
            "tests.fakes.providers",
            "--host",
            "127.0.0.1",
            "--port",
            str(fake_port),
            "--keys-json",
            json.dumps({"openai": [provider_key]}),
        ],
        data_dir / "logs" / "fake-providers.log",
        cwd=ROOT,
    ).start()
    wait_for_port(fake_port, proc=fake.proc)
    root = f"http://127.0.0.1:{fake_port}"
    env = {
        "KEYRELAY_PROVIDER_BASE_URLS": json.dumps({"openai": root + FAKE_OPENAI_BASE}),
        "KEYRELAY_UPSTREAM_ALLOW": "127.0.0.1/32",
    }
    stack = EmbeddedStack(
        data_dir=data_dir,
        http_port=http_port,
        nats_port=nats_port,
        mongo_port=mongo_port,
        extra_env=env,
        log_format="json",
    )
    dev = DevStack(stack, fake, root, provider_key)
    try:
        stack.start()
    except BaseException:
        dev.stop()
        raise
    return dev
