"""The demo: bootstrap an org, connect an integration with its own provider key, send a normal and a
streamed request with the official `openai` SDK, print the answers and the activity records.

Starts its own stack on free ports with the FAKE providers (under `.keyrelay/demo-stack`), runs the
demo and stops it again; `just up` is the real stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from devstack import ROOT, start

from shared.embedded import free_port

DATA = Path(os.environ.get("KEYRELAY_DATA_DIR", ROOT / ".keyrelay"))


def say(title: str, body: object = None) -> None:
    print(f"\n\033[1m== {title}\033[0m")
    if body is not None:
        print(body if isinstance(body, str) else json.dumps(body, indent=2, default=str))


def operator_env(info: dict[str, str], data_dir: Path) -> dict[str, str]:
    secrets_file = data_dir / "secrets.env"
    password = next(
        line.split("=", 1)[1]
        for line in secrets_file.read_text().splitlines()
        if line.startswith("KEYRELAY_NATS_PASSWORD__OPERATOR=")
    )
    return {
        **os.environ,
        "KEYRELAY_NATS_URL": info["nats_url"],
        "KEYRELAY_NATS_USER": "operator",
        "KEYRELAY_NATS_PASSWORD": password,
        "KEYRELAY_ENV_FILE": os.devnull,
    }


def demo(info: dict[str, str], data_dir: Path) -> None:
    import httpx  # noqa: PLC0415
    import openai  # noqa: PLC0415

    gateway = info["gateway_url"]
    org_name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    say(f"keyrelay bootstrap --org {org_name} --owner-email owner@example.com")
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "bootstrap", "--org", org_name, "--owner-email", "owner@example.com"],
        env=operator_env(info, data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    boot = json.loads(result.stdout)
    print(json.dumps({**boot, "owner_token": boot["owner_token"][:8] + "… (shown once)"}))
    owner = httpx.Client(
        base_url=f"{gateway}/api/v1", headers={"authorization": f"Bearer {boot['owner_token']}"}, timeout=30
    )

    say("POST /api/v1/integrations  (the org's own OpenAI key, encrypted by keyvault, never returned)")
    created = owner.post(
        "/integrations",
        json={
            "provider": "openai",
            "name": "OpenAI Production",
            "slug": "openai-prod",
            "project_scope": "all",
            "credentials": {"api_key": info["provider_key"]},
            "models": {"enabled": ["gpt-4o-mini", "gpt-4.1"]},
        },
    )
    created.raise_for_status()
    integration = created.json()
    print(json.dumps({k: integration[k] for k in ("slug", "provider", "status", "credential", "models")}, indent=2))

    key = owner.post("/api-keys", json={"project_id": boot["project_id"], "name": "demo app"}).json()["key"]
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=key)

    say("openai SDK: chat.completions.create(model='@openai-prod/gpt-4o-mini')")
    raw = client.chat.completions.with_raw_response.create(
        model="@openai-prod/gpt-4o-mini", messages=[{"role": "user", "content": "Hello from Keyrelay!"}]
    )
    completion = raw.parse()
    print(f"answer: {completion.choices[0].message.content!r}   usage: {completion.usage}")
    print(
        f"served by {raw.headers['x-keyrelay-integration']} / {raw.headers['x-keyrelay-model']}, "
        f"request id {raw.headers['x-request-id']}"
    )
    first_id = raw.headers["x-request-id"]

    say("openai SDK, streamed: model='openai/gpt-4o-mini', stream=True")
    stream = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Stream a short greeting, please."}],
    )
    text = ""
    for chunk in stream.parse():
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            print(chunk.choices[0].delta.content, end="", flush=True)
        if chunk.usage:
            print(f"\nusage: {chunk.usage}")
    second_id = stream.headers["x-request-id"]

    say("GET /api/v1/activity/{request_id}  (one record per request, tagged with the integration slug)")
    for request_id in (first_id, second_id):
        for _ in range(50):
            record = owner.get(f"/activity/{request_id}")
            if record.status_code == 200:
                break
            time.sleep(0.1)
        doc = record.json()
        print(
            json.dumps(
                {
                    k: doc.get(k)
                    for k in (
                        "request_id",
                        "integration",
                        "provider",
                        "model_requested",
                        "model_served",
                        "status",
                        "stream",
                        "stream_outcome",
                        "latency_ms",
                        "ttft_ms",
                        "usage",
                        "cost_usd",
                        "byok",
                    )
                },
                indent=2,
            )
        )
    logs = "\n".join(p.read_text(errors="replace") for p in Path(info["logs"]).glob("*.log"))
    leaked = info["provider_key"] in logs or info["provider_key"][8:20] in logs
    say(f"provider key in any service log: {'YES (bug!)' if leaked else 'no'}")


def main() -> int:
    data_dir = DATA / "demo-stack"
    say("starting a demo stack on free ports: nats-server, SecantusDB, 4 services and FAKE providers")
    dev = start(data_dir, free_port())
    try:
        info = dev.info()
        print(f"gateway {info['gateway_url']}  logs {info['logs']}  fake providers {info['fake_root']}")
        demo(info, data_dir)
    finally:
        dev.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
