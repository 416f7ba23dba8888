"""The bus contract published as AsyncAPI 3.0: channels from `shared.subjects` (through `shared.contract`),
payload schemas from the msgspec Structs (`msgspec.json.schema_components`; FastStream's own generator
cannot read msgspec types). `just asyncapi` writes `docs/asyncapi.yaml`; a test fails when it is stale.

    python -m shared.asyncapi docs/asyncapi.yaml     # write it
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec

from shared.contract import EVENTS, REQUESTS
from shared.messages.base import Failed

Doc = dict[str, Any]
_SCHEMAS = "#/components/schemas/{name}"


def _describable(tp: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`tp`, or for a message with a `msgspec.Raw` field (a JSON body passed through as it was) a twin of
    the same name and tag whose field is any JSON: msgspec cannot write a `Raw` default into a schema."""
    fields = msgspec.structs.fields(tp)
    if not any(f.type is msgspec.Raw for f in fields):
        return tp
    config = tp.__struct_config__
    return msgspec.defstruct(
        tp.__name__,
        [(f.name, Any, None) if f.type is msgspec.Raw else (f.name, f.type, f.default) for f in fields],
        tag=config.tag,
        tag_field=config.tag_field,
        kw_only=True,
        omit_defaults=True,
    )


def _channel_id(subject: str) -> str:
    head, *rest = subject.split(".")
    return head + "".join(part[:1].upper() + part[1:] for part in rest if not part.startswith("v"))


def _message_ref(channel: str, message: type[msgspec.Struct]) -> Doc:
    return {"$ref": f"#/channels/{channel}/messages/{message.__name__}"}


def _component_ref(message: type[msgspec.Struct]) -> Doc:
    return {"$ref": f"#/components/messages/{message.__name__}"}


def _channel(subject: str, summary: str, description: str, message: type[msgspec.Struct]) -> Doc:
    return {
        "address": subject,
        "title": summary,
        "description": description,
        "messages": {message.__name__: _component_ref(message)},
    }


def _operation(action: str, channel: str, summary: str, message: type[msgspec.Struct]) -> Doc:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [_message_ref(channel, message)],
    }


def _types() -> list[type[msgspec.Struct]]:
    seen: dict[str, type[msgspec.Struct]] = {}
    for rr in REQUESTS:
        candidates: list[type[msgspec.Struct]] = [rr.request, *rr.replies, Failed]
        for tp in candidates:
            seen.setdefault(tp.__name__, tp)
    for event in EVENTS:
        seen.setdefault(event.message.__name__, event.message)
    return [seen[name] for name in sorted(seen)]


def document() -> Doc:
    """The whole AsyncAPI document as plain data (deterministic: sorted where order is free)."""
    types = _types()
    _, schemas = msgspec.json.schema_components([_describable(tp) for tp in types], ref_template=_SCHEMAS)
    channels: Doc = {}
    operations: Doc = {}
    for rr in REQUESTS:
        cid = _channel_id(rr.subject)
        replies: tuple[type[msgspec.Struct], ...] = (*rr.replies, Failed)
        channels[cid] = _channel(
            rr.subject,
            rr.summary,
            f"Core NATS request-reply, queue group `{rr.responder}`; requested by {', '.join(rr.callers)}.",
            rr.request,
        )
        channels[f"{cid}Reply"] = {
            "address": None,
            "description": "The requester's private inbox (`_INBOX.<service>.>`); `Failed` when the "
            "responder refused, the request was invalid or the handler crashed.",
            "messages": {tp.__name__: _component_ref(tp) for tp in replies},
        }
        operations[f"{rr.responder}.answer.{cid}"] = {
            **_operation("receive", cid, rr.summary, rr.request),
            "reply": {
                "channel": {"$ref": f"#/channels/{cid}Reply"},
                "messages": [_message_ref(f"{cid}Reply", tp) for tp in replies],
            },
        }
    for event in EVENTS:
        cid = _channel_id(event.subject)
        transport = "JetStream stream `KEYRELAY_ACTIVITY`" if event.jetstream else "core NATS broadcast"
        channels[cid] = _channel(
            event.subject,
            event.summary,
            f"{transport}; published by {', '.join(event.publishers)}, consumed by {', '.join(event.consumers)}.",
            event.message,
        )
        for action, services in (("send", event.publishers), ("receive", event.consumers)):
            for service in services:
                operations[f"{service}.{action}.{cid}"] = _operation(action, cid, event.summary, event.message)
    messages = {
        tp.__name__: {
            "name": tp.__name__,
            "title": tp.__name__,
            "summary": (tp.__doc__ or "").strip().splitlines()[0] if tp.__doc__ else tp.__name__,
            "contentType": "application/json",
            "payload": {"$ref": _SCHEMAS.format(name=tp.__name__)},
        }
        for tp in types
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Keyrelay bus",
            "version": "1",
            "description": "Every NATS subject Keyrelay uses, with its msgspec messages. Generated by "
            "`just asyncapi` from shared/subjects.py, shared/contract.py and shared/messages; do not edit.",
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    """The document as YAML (PyYAML: a development tool, never imported by a running service)."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only the generator and its test need it

    return str(yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/asyncapi.yaml")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")  # noqa: T201 - the command's one line


if __name__ == "__main__":
    main()
