"""The fake OpenAI upstream `just bench` puts behind every gateway (and calls directly for the baseline).

One process, any bearer key. What to do is read from the first line of the last user message, so
every gateway forwards it unchanged: `bench delay=50 chunks=20 gap=5` answers after 50 ms and, when
the request streams, sends 20 content chunks 5 ms apart (then the usage chunk if asked, `[DONE]`).
The rest of the message is padding (the prompt-size runs); it is parsed like any body, nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from aiohttp import web

CONTROL = re.compile(r"bench delay=(\d+) chunks=(\d+) gap=(\d+)")
USAGE = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}


def control(body: dict[str, object]) -> tuple[float, int, float]:
    messages = body.get("messages")
    text = ""
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        text = content if isinstance(content, str) else json.dumps(content)[:200]
    match = CONTROL.search(text[:200])
    if match is None:
        return 0.0, 20, 0.0
    return int(match[1]) / 1000, int(match[2]), int(match[3]) / 1000


def completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "a short answer from the bench upstream"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": USAGE,
        }
    ).encode()


def chunk(model: str, created: int, delta: dict[str, object], finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    delay, chunks, gap = control(body)
    model = str(body.get("model") or "gpt-4o-mini")
    if delay:
        await asyncio.sleep(delay)
    if not body.get("stream"):
        return web.Response(body=completion(model), content_type="application/json")
    resp = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
    await resp.prepare(request)
    created = int(time.time())
    await resp.write(chunk(model, created, {"role": "assistant", "content": ""}))
    for i in range(chunks):
        if gap and i:
            await asyncio.sleep(gap)
        await resp.write(chunk(model, created, {"content": "tok "}))
    await resp.write(chunk(model, created, {}, "stop"))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model}
        usage |= {"choices": [], "usage": USAGE}
        await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def models(_: web.Request) -> web.Response:
    data = [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "bench"}]
    return web.json_response({"object": "list", "data": data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
