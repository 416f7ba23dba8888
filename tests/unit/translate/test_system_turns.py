"""System messages after the conversation started, towards Anthropic: kept in place only where
Anthropic takes them (Opus 4.8 on its own API, right after a user turn, last or before an
assistant turn), merged into the top-level system prompt in order everywhere else."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.translate.anthropic import openai_to_anthropic_request
from gateway.translate.system_turns import accepts_system_turns
from gateway.wire.openai import ChatRequest, encode


def request(*turns: tuple[str, str], system_turns: bool) -> dict[str, Any]:
    body = {"model": "claude-opus-4-8", "messages": [{"role": r, "content": c} for r, c in turns]}
    translated = openai_to_anthropic_request(ChatRequest.from_body(body), system_turns=system_turns)
    return msgspec.json.decode(encode(translated))


def roles(out: dict[str, Any]) -> list[str]:
    return [m["role"] for m in out["messages"]]


def test_only_opus_4_8_on_anthropics_own_api_takes_system_turns() -> None:
    assert accepts_system_turns("anthropic", "claude-opus-4-8")
    assert not accepts_system_turns("anthropic", "claude-sonnet-4-6")
    assert not accepts_system_turns("vertex", "claude-opus-4-8")
    assert not accepts_system_turns("minimax", "claude-opus-4-8")


def test_a_system_turn_after_the_last_user_turn_stays_in_place() -> None:
    out = request(("system", "top"), ("user", "a"), ("system", "rule"), system_turns=True)
    assert out["system"] == "top"
    assert roles(out) == ["user", "system"]
    assert out["messages"][1]["content"] == [{"type": "text", "text": "rule"}]


def test_a_system_turn_before_an_assistant_turn_stays_and_consecutive_ones_become_one() -> None:
    out = request(("user", "a"), ("system", "r1"), ("system", "r2"), ("assistant", "b"), system_turns=True)
    assert roles(out) == ["user", "system", "assistant"]
    assert [b["text"] for b in out["messages"][1]["content"]] == ["r1", "r2"]
    assert "system" not in out


def test_a_misplaced_system_turn_joins_the_system_prompt_and_the_user_turns_around_it_merge() -> None:
    out = request(("system", "top"), ("user", "a"), ("system", "rule"), ("user", "b"), system_turns=True)
    assert out["system"] == "top\n\nrule"
    assert roles(out) == ["user"]
    assert [b["text"] for b in out["messages"][0]["content"]] == ["a", "b"]


def test_without_system_turns_every_system_message_joins_the_prompt_in_order() -> None:
    out = request(("system", "top"), ("user", "a"), ("system", "rule"), system_turns=False)
    assert out["system"] == "top\n\nrule"
    assert roles(out) == ["user"]
