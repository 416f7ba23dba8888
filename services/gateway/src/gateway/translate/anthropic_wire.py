"""Anthropic Messages as structs (providers.md 3): the request the gateway sends, the response and
stream events it reads. Only the fields the translation uses; unknown ones are ignored on decode."""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from gateway.wire.openai import Json, Plain


class Source(Plain, kw_only=True):
    type: str
    media_type: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    url: str | UnsetType = UNSET


class Block(Plain, kw_only=True):
    type: str
    text: str | UnsetType = UNSET
    thinking: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET  # a thinking block's
    data: str | UnsetType = UNSET  # a redacted_thinking block's
    source: Source | UnsetType = UNSET
    id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    input: Json | UnsetType | None = UNSET
    tool_use_id: str | UnsetType = UNSET
    content: str | list[Block] | UnsetType = UNSET
    title: str | UnsetType = UNSET  # a document's


class Turn(Plain, kw_only=True):
    role: str
    content: list[Block]


class ToolSpec(Plain, kw_only=True):
    name: str
    input_schema: Json
    description: str | UnsetType = UNSET


class ToolChoice(Plain, kw_only=True):
    type: str
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class OutputFormat(Plain, kw_only=True):
    type: str
    schema: Json


class OutputConfig(Plain, kw_only=True):
    effort: str | UnsetType = UNSET
    format: OutputFormat | UnsetType = UNSET


class Metadata(Plain, kw_only=True):
    user_id: str


class MessagesRequest(Plain, kw_only=True):
    model: str | UnsetType = UNSET  # Vertex takes the model in the URL
    max_tokens: int
    messages: list[Turn]
    system: str | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    tools: list[ToolSpec] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    thinking: Json | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    service_tier: str | UnsetType = UNSET
    stream: bool | UnsetType = UNSET
    anthropic_version: str | UnsetType = UNSET  # Vertex only


class OutputDetails(Plain, kw_only=True):
    thinking_tokens: int | None = None


class AnthropicUsage(Plain, kw_only=True):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    output_tokens_details: OutputDetails | None = None


class MessagesResponse(Plain, kw_only=True):
    id: str | None = None
    content: list[Block] = field(default_factory=list)
    stop_reason: str | None = None
    usage: AnthropicUsage | None = None


class EventDelta(Plain, kw_only=True):
    type: str | None = None
    text: str = ""
    thinking: str = ""
    signature: str = ""
    partial_json: str = ""
    stop_reason: str | None = None


class StreamEvent(Plain, kw_only=True):
    type: str = ""
    index: int = 0
    message: MessagesResponse | None = None
    content_block: Block | None = None
    delta: EventDelta | None = None
    usage: AnthropicUsage | None = None
    error: Json | None = None
