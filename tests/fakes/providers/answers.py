"""Deterministic answers: echo the final turn, count words as tokens, call tools when asked to.

Rules every family shares:
* the answer text is `"echo: " + <text of the final turn>` (user text, or the tool result);
* when the request declares tools and the final turn is user text containing "call tool", the
  answer is a call of the first tool (or of the first two for "call tools"), whose arguments map
  the schema's first property to the user text; when the text names declared tools, the first of
  those is called instead (clients such as Claude Code declare placeholder tools first);
* prompt tokens = words in the whole request (at least 1); completion tokens = words produced.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"\S+")
_PIECE = re.compile(r"\S+\s*|\s+")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def split_text(text: str) -> list[str]:
    """Split into stream pieces: one word (with its trailing space) per piece."""
    return _PIECE.findall(text) or [text]


def split_in(text: str, parts: int) -> list[str]:
    """Cut a string into `parts` roughly equal fragments (tool-argument deltas)."""
    if len(text) < parts:
        return [text]
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)]


def new_id(prefix: str, size: int = 12) -> str:
    return prefix + secrets.token_hex(size)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    argument: str | None  # first property of the parameter schema, if any


@dataclass(frozen=True, slots=True)
class Prompt:
    last_text: str
    last_is_user: bool
    words_in: int
    tools: tuple[ToolSpec, ...] = ()
    tools_allowed: bool = True


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = field(default=())
    reasoning: str = ""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def reasoning_tokens(self) -> int:
        return count_words(self.reasoning)


def first_property(schema: object) -> str | None:
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict) and props:
            return str(next(iter(props)))
    return None


def _names(text: str, name: str) -> bool:
    """Whether `text` mentions the tool `name` as a word of its own."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def plan_answer(prompt: Prompt, *, tool_id_prefix: str = "call_", reasoning: bool = False) -> Answer:
    """Decide the deterministic answer for a prompt."""
    lowered = prompt.last_text.lower()
    calls: tuple[ToolCall, ...] = ()
    if prompt.tools and prompt.tools_allowed and prompt.last_is_user and "call tool" in lowered:
        named = tuple(spec for spec in prompt.tools if spec.name and _names(prompt.last_text, spec.name))
        pool = named or prompt.tools
        chosen = pool[:2] if "call tools" in lowered else pool[:1]
        calls = tuple(
            ToolCall(new_id(tool_id_prefix), spec.name, {spec.argument: prompt.last_text} if spec.argument else {})
            for spec in chosen
        )
    thought = f"thinking about: {prompt.last_text}" if reasoning else ""
    text = "" if calls else f"echo: {prompt.last_text}"
    produced = sum(count_words(c.arguments_json) for c in calls) + count_words(text) + count_words(thought)
    return Answer(
        text=text,
        prompt_tokens=max(1, prompt.words_in),
        completion_tokens=max(1, produced),
        tool_calls=calls,
        reasoning=thought,
    )


def text_of(content: object) -> str:
    """Text of an OpenAI/Anthropic/Cohere content value: a string or a list of parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [text_of(part) for part in content]
        return " ".join(t for t in texts if t)
    if isinstance(content, dict):
        for key in ("text", "content"):
            if key in content:
                return text_of(content[key])
    return ""


def embedding_of(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-ish vector derived from the text."""
    seed = sum(text.encode()) or 1
    return [round(((seed * (i + 7)) % 1000) / 1000 - 0.5, 6) for i in range(dimensions)]
