"""Cohere v2 chat as structs (providers.md 19). Messages and tools use the OpenAI shapes, so the
request reuses `wire.openai`'s parts, tool calls and tools; the response and stream events have
their own. Only the fields the translation uses; unknown ones are ignored."""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from gateway.wire.openai import ContentPart, FunctionDef, Json, Plain, ToolCall


class CohereMessage(Plain, kw_only=True):
    role: str
    content: str | list[ContentPart] | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET


class CohereTool(Plain, kw_only=True):
    type: str = "function"
    function: FunctionDef


class CohereResponseFormat(Plain, kw_only=True):
    type: str
    json_schema: Json | UnsetType = UNSET


class Thinking(Plain, kw_only=True):
    type: str
    token_budget: int


class CohereRequest(Plain, kw_only=True):
    model: str | UnsetType = UNSET
    messages: list[CohereMessage]
    max_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    p: float | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    tools: list[CohereTool] | UnsetType = UNSET
    strict_tools: bool | UnsetType = UNSET
    tool_choice: str | UnsetType = UNSET
    response_format: CohereResponseFormat | UnsetType = UNSET
    thinking: Thinking | UnsetType = UNSET
    stream: bool | UnsetType = UNSET


class Units(Plain, kw_only=True):
    input_tokens: float | None = None
    output_tokens: float | None = None


class CohereUsage(Plain, kw_only=True):
    billed_units: Units | None = None
    tokens: Units | None = None
    cached_tokens: int | None = None


class ContentItem(Plain, kw_only=True):
    type: str | None = None
    text: str | None = None
    thinking: str | None = None


class ReplyMessage(Plain, kw_only=True):
    content: list[ContentItem] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)


class CohereResponse(Plain, kw_only=True):
    id: str | None = None
    message: ReplyMessage | None = None
    finish_reason: str | None = None
    usage: CohereUsage | None = None


class DeltaMessage(Plain, kw_only=True):
    """One event's message delta: `message-start` carries (empty) lists, the other events one item."""

    content: ContentItem | list[ContentItem] | None = None
    tool_calls: ToolCall | list[ToolCall] | None = None
    tool_plan: str | None = None

    def item(self) -> ContentItem:
        return self.content if isinstance(self.content, ContentItem) else ContentItem()

    def call(self) -> ToolCall:
        return self.tool_calls if isinstance(self.tool_calls, ToolCall) else ToolCall()


class EventDelta(Plain, kw_only=True):
    message: DeltaMessage | None = None
    finish_reason: str | None = None
    usage: CohereUsage | None = None
    error: Json | str | None = None


class CohereEvent(Plain, kw_only=True):
    type: str | None = None
    id: str | None = None
    index: int = 0
    delta: EventDelta | None = None
    error: Json | str | None = None
