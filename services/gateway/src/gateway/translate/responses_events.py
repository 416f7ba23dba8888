"""Responses API stream events, and chat chunks (`ChatDelta`s) turned into them with numbers.

Events as OpenAI's `ResponseStreamEvent` schema has them (`sequence_number` from 0); the
`ResponseEventEmitter` keeps the response object up to date as items open and close, so the
terminal event carries the whole response (what `previous_response_id` later continues).
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from gateway.translate.common import new_id
from gateway.translate.responses import (
    ChatCall,
    ChatDelta,
    OutputFunctionCall,
    OutputItem,
    OutputMessage,
    OutputReasoning,
    OutputTextPart,
    Response,
    SummaryText,
    seal_thinking,
)
from gateway.wire.openai import ThinkingBlock
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

S = TypeVar("S", bound=msgspec.Struct)


class ResponseEvent(msgspec.Struct, kw_only=True, tag_field="type"):
    sequence_number: int


class ResponseLifecycle(ResponseEvent, kw_only=True):
    response: Response


class ResponseCreated(ResponseLifecycle, tag="response.created"):
    pass


class ResponseInProgress(ResponseLifecycle, tag="response.in_progress"):
    pass


class ResponseCompleted(ResponseLifecycle, tag="response.completed"):
    pass


class ResponseIncomplete(ResponseLifecycle, tag="response.incomplete"):
    pass


class ResponseFailed(ResponseLifecycle, tag="response.failed"):
    pass


class ItemAdded(ResponseEvent, tag="response.output_item.added", kw_only=True):
    output_index: int
    item: OutputItem


class ItemDone(ResponseEvent, tag="response.output_item.done", kw_only=True):
    output_index: int
    item: OutputItem


class ItemEvent(ResponseEvent, kw_only=True):
    """An event about one output item (its fields first, as OpenAI's schema orders them)."""

    item_id: str
    output_index: int


class ContentEvent(ItemEvent, kw_only=True):
    content_index: int


class SummaryEvent(ItemEvent, kw_only=True):
    summary_index: int


class PartAdded(ContentEvent, tag="response.content_part.added", kw_only=True):
    part: OutputTextPart


class PartDone(ContentEvent, tag="response.content_part.done", kw_only=True):
    part: OutputTextPart


class TextDelta(ContentEvent, tag="response.output_text.delta", kw_only=True):
    delta: str
    logprobs: list[msgspec.Raw] = msgspec.field(default_factory=list)


class TextDone(ContentEvent, tag="response.output_text.done", kw_only=True):
    text: str
    logprobs: list[msgspec.Raw] = msgspec.field(default_factory=list)


class ArgumentsDelta(ItemEvent, tag="response.function_call_arguments.delta", kw_only=True):
    delta: str


class ArgumentsDone(ItemEvent, tag="response.function_call_arguments.done", kw_only=True):
    name: str
    arguments: str


class SummaryPartAdded(SummaryEvent, tag="response.reasoning_summary_part.added", kw_only=True):
    part: SummaryText


class SummaryPartDone(SummaryEvent, tag="response.reasoning_summary_part.done", kw_only=True):
    part: SummaryText


class SummaryTextDelta(SummaryEvent, tag="response.reasoning_summary_text.delta", kw_only=True):
    delta: str


class SummaryTextDone(SummaryEvent, tag="response.reasoning_summary_text.done", kw_only=True):
    text: str


class ErrorEvent(ResponseEvent, tag="error", kw_only=True):
    code: str
    message: str
    param: str | None = None


class ResponseEventEmitter:
    """Chat chunks -> Responses events, numbered from 0.

    Items open in the order their first delta arrives (reasoning, message text, each function call)
    and a text or reasoning item closes when another item opens; function calls stay open until the
    end (a provider may interleave their argument fragments). `finish` closes every open item and
    ends with `response.completed` (or `response.incomplete` after a `length`/`content_filter`
    finish); `error` ends with `response.failed` and an `error` event.
    """

    def __init__(self, response: Response) -> None:
        self.response = response
        self._seq = 0
        self._open: list[int] = []  # output indexes of open items
        self._text: dict[int, list[str]] = {}  # output index -> text (message) or summary (reasoning) pieces
        self._calls: dict[int, int] = {}  # chat tool index -> output index
        self._current: int | None = None  # the open message or reasoning item
        self._thinking: dict[int, list[ThinkingBlock]] = {}  # reasoning output index -> its Anthropic blocks
        self._finish: str | None = None
        self._started = False

    def _next(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def start(self) -> list[ResponseEvent]:
        if self._started:
            return []
        self._started = True
        return [
            ResponseCreated(sequence_number=self._next(), response=_copy(self.response)),
            ResponseInProgress(sequence_number=self._next(), response=_copy(self.response)),
        ]

    def feed(self, delta: ChatDelta) -> list[ResponseEvent]:
        events = self.start()
        if delta.reasoning:
            events += self._piece(OutputReasoning, delta.reasoning)
        if delta.thinking:
            events += self._seal(delta.thinking)
        if delta.text:
            events += self._piece(OutputMessage, delta.text)
        for call in delta.calls:
            events += self._call(call)
        if delta.finish_reason:
            self._finish = delta.finish_reason
        return events

    def finish(self, usage: Usage) -> list[ResponseEvent]:
        events = self.start()
        for index in list(self._open):
            events += self._close(index)
        self.response.end(self._finish, usage)
        kind = ResponseCompleted if self.response.status == "completed" else ResponseIncomplete
        events.append(kind(sequence_number=self._next(), response=self.response))
        return events

    def error(self, exc: KeyrelayError) -> list[ResponseEvent]:
        events = self.start()
        self.response.fail(exc)
        assert self.response.error is not None  # noqa: S101 - fail() just set it
        events.append(ResponseFailed(sequence_number=self._next(), response=self.response))
        events.append(
            ErrorEvent(
                sequence_number=self._next(), code=self.response.error.code, message=exc.message, param=exc.param
            )
        )
        return events

    # --- items ------------------------------------------------------------------------------------
    def _add(self, item: OutputItem) -> tuple[int, list[ResponseEvent]]:
        index = len(self.response.output)
        self.response.output.append(item)
        self._open.append(index)
        return index, [ItemAdded(sequence_number=self._next(), output_index=index, item=_copy(item))]

    def _piece(self, kind: type[OutputMessage | OutputReasoning], text: str) -> list[ResponseEvent]:
        events: list[ResponseEvent] = []
        current = self._current
        if current is None or not isinstance(self.response.output[current], kind):
            if current is not None:
                events += self._close(current)
            if kind is OutputMessage:
                current, added = self._add(OutputMessage(id=new_id("msg_"), status="in_progress"))
                events += added
                part = OutputTextPart(text="")
                events.append(
                    PartAdded(
                        sequence_number=self._next(),
                        item_id=self.response.output[current].id,
                        output_index=current,
                        content_index=0,
                        part=part,
                    )
                )
            else:
                current, added = self._add(OutputReasoning(id=new_id("rs_"), summary=[], status="in_progress"))
                events += added
                events.append(
                    SummaryPartAdded(
                        sequence_number=self._next(),
                        item_id=self.response.output[current].id,
                        output_index=current,
                        summary_index=0,
                        part=SummaryText(text=""),
                    )
                )
            self._current = current
            self._text[current] = []
        self._text[current].append(text)
        if not text:  # an item opened for what is not text (`_seal`)
            return events
        if kind is OutputMessage:
            events.append(
                TextDelta(
                    sequence_number=self._next(),
                    item_id=self.response.output[current].id,
                    output_index=current,
                    content_index=0,
                    delta=text,
                )
            )
        else:
            events.append(
                SummaryTextDelta(
                    sequence_number=self._next(),
                    item_id=self.response.output[current].id,
                    output_index=current,
                    summary_index=0,
                    delta=text,
                )
            )
        return events

    def _seal(self, blocks: list[ThinkingBlock]) -> list[ResponseEvent]:
        """Anthropic's thinking blocks join the open reasoning item's `encrypted_content` (one opens
        for blocks that came without reasoning text: redacted thinking)."""
        events: list[ResponseEvent] = []
        current = self._current
        if current is None or not isinstance(self.response.output[current], OutputReasoning):
            events += self._piece(OutputReasoning, "")
            current = self._current
        assert current is not None  # noqa: S101 - _piece just opened it
        item = self.response.output[current]
        kept = self._thinking.setdefault(current, [])
        kept += blocks
        if isinstance(item, OutputReasoning):
            item.encrypted_content = seal_thinking(kept)
        return events

    def _call(self, call: ChatCall) -> list[ResponseEvent]:
        events: list[ResponseEvent] = []
        index = self._calls.get(call.index)
        if index is None:
            if self._current is not None:
                events += self._close(self._current)
            opened = OutputFunctionCall(
                id=new_id("fc_"),
                call_id=call.id or new_id("call_"),
                name=call.name or "",
                arguments="",
                status="in_progress",
            )
            index, added = self._add(opened)
            events += added
            self._calls[call.index] = index
        item = self.response.output[index]
        if call.arguments and isinstance(item, OutputFunctionCall):
            item.arguments += call.arguments
            events.append(
                ArgumentsDelta(sequence_number=self._next(), item_id=item.id, output_index=index, delta=call.arguments)
            )
        return events

    def _close(self, index: int) -> list[ResponseEvent]:
        if index not in self._open:
            return []
        self._open.remove(index)
        if self._current == index:
            self._current = None
        item = self.response.output[index]
        events: list[ResponseEvent] = []
        text = "".join(self._text.pop(index, []))
        if isinstance(item, OutputMessage):
            part = OutputTextPart(text=text)
            events.append(
                TextDone(sequence_number=self._next(), item_id=item.id, output_index=index, content_index=0, text=text)
            )
            events.append(
                PartDone(sequence_number=self._next(), item_id=item.id, output_index=index, content_index=0, part=part)
            )
            item.content = [part]
        elif isinstance(item, OutputReasoning):
            summary = SummaryText(text=text)
            events.append(
                SummaryTextDone(
                    sequence_number=self._next(), item_id=item.id, output_index=index, summary_index=0, text=text
                )
            )
            events.append(
                SummaryPartDone(
                    sequence_number=self._next(), item_id=item.id, output_index=index, summary_index=0, part=summary
                )
            )
            item.summary = [summary]
        else:
            events.append(
                ArgumentsDone(
                    sequence_number=self._next(),
                    item_id=item.id,
                    output_index=index,
                    name=item.name,
                    arguments=item.arguments,
                )
            )
        item.status = "completed"
        events.append(ItemDone(sequence_number=self._next(), output_index=index, item=_copy(item)))
        return events


def _copy(value: S) -> S:
    """A snapshot for an event (the live object keeps changing; `response.output` is not shared)."""
    return msgspec.json.decode(msgspec.json.encode(value), type=type(value))
