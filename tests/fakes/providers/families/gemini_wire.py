"""Gemini `generateContent` request reading, response bodies and `data:`-only SSE streams."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.fakes.providers.answers import Answer, Prompt, ToolSpec, count_words, first_property, split_text
from tests.fakes.providers.sse import SseEvent, StreamPlan

MIDSTREAM_ERROR = {
    "error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}
}


def _parts(content: object) -> list[dict[str, Any]]:
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts or [] if isinstance(p, dict)]


def _part_text(part: dict[str, Any]) -> str:
    if isinstance(part.get("text"), str):
        return str(part["text"])
    if isinstance(part.get("functionResponse"), dict):
        return json.dumps(part["functionResponse"].get("response"), ensure_ascii=False)
    return ""


def prompt_from_request(body: dict[str, Any]) -> Prompt:
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    last_parts = _parts(contents[-1]) if contents else []
    is_result = any("functionResponse" in p for p in last_parts)
    tools = tuple(
        ToolSpec(str(decl.get("name", "")), first_property(decl.get("parametersJsonSchema") or decl.get("parameters")))
        for tool in body.get("tools") or []
        if isinstance(tool, dict)
        for decl in tool.get("functionDeclarations") or []
        if isinstance(decl, dict)
    )
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    texts = [_part_text(p) for c in [body.get("systemInstruction"), *contents] for p in _parts(c)]
    return Prompt(
        last_text=" ".join(t for t in (_part_text(p) for p in last_parts) if t),
        last_is_user=bool(contents) and contents[-1].get("role", "user") == "user" and not is_result,
        words_in=sum(count_words(t) for t in texts),
        tools=tools,
        tools_allowed=mode != "NONE",
    )


def thoughts_requested(body: dict[str, Any]) -> bool:
    config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    return bool(config.get("includeThoughts"))


def signature() -> str:
    return "CiQB" + secrets.token_urlsafe(30)


class GeminiShape:
    """Stamps the envelope fields of one response (Vertex adds createTime and trafficType)."""

    def __init__(self, model: str, answer: Answer, *, vertex: bool) -> None:
        self.model, self.answer, self.vertex = model, answer, vertex
        self.response_id = secrets.token_urlsafe(12)
        self.created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def usage(self, produced: int | None = None) -> dict[str, Any]:
        a = self.answer
        thoughts = a.reasoning_tokens
        candidates = (a.completion_tokens - thoughts) if produced is None else produced
        usage: dict[str, Any] = {
            "promptTokenCount": a.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": a.prompt_tokens + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": a.prompt_tokens}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if self.vertex:
            usage["trafficType"] = "ON_DEMAND"
        return usage

    def wrap(self, parts: list[dict[str, Any]] | None, usage: dict[str, Any], finish: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if parts is not None:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = "STOP"
            body["candidates"] = [candidate]
        body.update({"usageMetadata": usage, "modelVersion": self.model, "responseId": self.response_id})
        if self.vertex:
            body["createTime"] = self.created
        return body

    def call_parts(self) -> list[dict[str, Any]]:
        return [
            {"functionCall": {"name": c.name, "args": c.arguments}, "thoughtSignature": signature()}
            for c in self.answer.tool_calls
        ]

    def full(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if self.answer.reasoning:
            parts.append({"text": self.answer.reasoning, "thought": True})
        if self.answer.text:
            parts.append({"text": self.answer.text})
        return self.wrap(parts + self.call_parts(), self.usage(), finish=True)

    def blocked(self) -> dict[str, Any]:
        body = self.wrap(
            None,
            {"promptTokenCount": self.answer.prompt_tokens, "totalTokenCount": self.answer.prompt_tokens},
            finish=False,
        )
        return {"promptFeedback": {"blockReason": "SAFETY"}, **body}

    def chunks(self) -> list[dict[str, Any]]:
        """Running-usage text chunks, then a final chunk with the calls (or an empty signed part)."""
        out: list[dict[str, Any]] = []
        produced = 0
        if self.answer.reasoning:
            for piece in split_text(self.answer.reasoning):
                out.append(self.wrap([{"text": piece, "thought": True}], self.usage(produced), finish=False))
        for piece in split_text(self.answer.text) if self.answer.text else []:
            produced += count_words(piece)
            out.append(self.wrap([{"text": piece}], self.usage(produced), finish=False))
        last = self.call_parts() or [{"text": "", "thoughtSignature": signature()}]
        out.append(self.wrap(last, self.usage(), finish=True))
        return out


def stream_plan(shape: GeminiShape) -> StreamPlan:
    events = [SseEvent.of(chunk) for chunk in shape.chunks()]
    malformed = SseEvent(b'{"candidates": [{"content": {"role": "model", "parts": [{"text": "br')
    return StreamPlan(events, 1, malformed, SseEvent.of(MIDSTREAM_ERROR))
