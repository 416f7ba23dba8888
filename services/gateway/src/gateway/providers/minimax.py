"""MiniMax, OpenAI surface (providers.md 15): thinking comes as `reasoning_details[].text` (asked for
with `reasoning_split`) or inline as `<think>...</think>` at the start of `content`; both become
`reasoning_content`. Balance errors (`(1008)`) are classified by `errors.map_error`."""

from __future__ import annotations

from msgspec import UNSET

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAIChunkNormalizer, OpenAICompatAdapter
from gateway.wire.chat_body import ChatPayload
from gateway.wire.openai import ChatChunk, ChatCompletion, ChunkChoice, Delta, ResponseMessage
from gateway.wire.sse import SseEvent

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Splits streamed content into (reasoning, text) around one leading `<think>` block.

    Tags may arrive cut across chunks: a tail that could be the start of a tag is held back
    until the next piece decides it.
    """

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> text
        self._held = ""

    def feed(self, piece: str) -> tuple[str, str]:
        data = self._held + piece
        self._held = ""
        if self._state == "start":
            stripped = data.lstrip()
            if OPEN.startswith(stripped) and len(stripped) < len(OPEN):
                self._held = data
                return "", ""
            if not stripped.startswith(OPEN):
                self._state = "text"
                return "", data
            self._state = "thinking"
            data = stripped[len(OPEN) :]
        if self._state == "thinking":
            end = data.find(CLOSE)
            if end >= 0:
                self._state = "text"
                return data[:end], data[end + len(CLOSE) :].lstrip("\n")
            keep = _partial_suffix(data, CLOSE)
            self._held = data[len(data) - keep :] if keep else ""
            return data[: len(data) - keep], ""
        return "", data

    def flush(self) -> tuple[str, str]:
        held, self._held = self._held, ""
        return (held, "") if self._state == "thinking" else ("", held)


def _partial_suffix(data: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(data)), 0, -1):
        if data.endswith(tag[:size]):
            return size
    return 0


def split_think(content: str) -> tuple[str, str]:
    splitter = ThinkSplitter()
    reasoning, text = splitter.feed(content)
    tail_reasoning, tail_text = splitter.flush()
    return reasoning + tail_reasoning, text + tail_text


def _details_text(container: Delta | ResponseMessage) -> str:
    details, container.reasoning_details = container.reasoning_details, UNSET
    return "".join(str(d.get("text", "")) for d in details or () if isinstance(d, dict))


class MiniMaxChunkNormalizer(OpenAIChunkNormalizer):
    """Moves streamed thinking (details or `<think>` content) to `reasoning_content` deltas."""

    def __init__(self, adapter: OpenAICompatAdapter) -> None:
        super().__init__(adapter)
        self._splitter = ThinkSplitter()

    def feed(self, event: SseEvent) -> list[ChatChunk]:
        out = []
        for chunk in super().feed(event):
            chunk.choices = [c for c in chunk.choices if self._split(c)]
            if chunk.choices:
                out.append(chunk)
        return out

    def _split(self, choice: ChunkChoice) -> bool:
        delta = choice.delta
        reasoning = _details_text(delta)
        if isinstance(delta.content, str) and delta.content:
            thought, text = self._splitter.feed(delta.content)
            delta.content = text or UNSET
            reasoning += thought
        if choice.finish_reason is not None:
            thought, text = self._splitter.flush()
            reasoning += thought
            if text:
                delta.content = (delta.content or "") + text
        if reasoning:
            delta.reasoning_content = reasoning
        return not delta.is_empty() or choice.finish_reason is not None


class MiniMaxAdapter(OpenAICompatAdapter):
    name = "minimax"

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        if payload.get("reasoning_split") is None:
            payload.set("reasoning_split", True)
        return payload

    def normalize_response(self, body: ChatCompletion) -> ChatCompletion:
        for choice in body.choices:
            message = choice.message
            reasoning = _details_text(message)
            if isinstance(message.content, str) and message.content.lstrip().startswith(OPEN):
                thought, text = split_think(message.content)
                reasoning += thought
                message.content = text or None
            if reasoning:
                message.reasoning_content = reasoning
        return body

    def normalizer(self) -> OpenAIChunkNormalizer:
        return MiniMaxChunkNormalizer(self)
