"""Gemini generateContent as structs (providers.md 4; Vertex's Gemini publisher too). Field names
are camelCase on the wire. Only the fields the translation uses; unknown ones are ignored."""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from gateway.wire.openai import Json, Plain


class Wire(Plain, kw_only=True, rename="camel"):
    """camelCase on the wire."""


class Blob(Wire):
    mime_type: str
    data: str


class FileData(Wire):
    mime_type: str
    file_uri: str


class FunctionCall(Wire):
    name: str = ""
    args: Json | UnsetType | None = UNSET
    id: str | UnsetType | None = UNSET


class FunctionResponse(Wire):
    name: str
    response: Json


class Part(Wire):
    text: str | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    thought_signature: str | UnsetType = UNSET
    inline_data: Blob | UnsetType = UNSET
    file_data: FileData | UnsetType = UNSET
    function_call: FunctionCall | UnsetType = UNSET
    function_response: FunctionResponse | UnsetType = UNSET


class Content(Wire):
    role: str | UnsetType = UNSET
    parts: list[Part] = field(default_factory=list)


class ThinkingConfig(Wire):
    thinking_budget: int


class GenerationConfig(Wire):
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    candidate_count: int | UnsetType = UNSET
    response_mime_type: str | UnsetType = UNSET
    response_json_schema: Json | UnsetType = UNSET
    thinking_config: ThinkingConfig | UnsetType = UNSET


class FunctionDeclaration(Wire):
    name: str
    description: str | UnsetType = UNSET
    parameters_json_schema: Json | UnsetType = UNSET


class ToolSet(Wire):
    function_declarations: list[FunctionDeclaration]


class FunctionCallingConfig(Wire):
    mode: str
    allowed_function_names: list[str] | UnsetType = UNSET


class ToolConfig(Wire):
    function_calling_config: FunctionCallingConfig


class GenerateRequest(Wire):
    contents: list[Content]
    system_instruction: Content | UnsetType = UNSET
    generation_config: GenerationConfig | UnsetType = UNSET
    tools: list[ToolSet] | UnsetType = UNSET
    tool_config: ToolConfig | UnsetType = UNSET


class UsageMetadata(Wire):
    prompt_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    cached_content_token_count: int = 0
    total_token_count: int = 0


class Candidate(Wire):
    content: Content | None = None
    finish_reason: str | None = None
    index: int | None = None


class PromptFeedback(Wire):
    block_reason: str | None = None


class GenerateResponse(Wire):
    candidates: list[Candidate] = field(default_factory=list)
    usage_metadata: UsageMetadata | None = None
    response_id: str | None = None
    prompt_feedback: PromptFeedback | None = None
    error: Json | None = None  # an error event inside a 200 stream
