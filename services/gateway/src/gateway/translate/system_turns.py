"""Mid-conversation `system` turns for Anthropic's Messages API.

Anthropic accepts `{"role": "system"}` turns inside `messages` only on some models (Claude Opus
4.8) on its own API (not on Vertex), and only where they immediately follow a user turn and are
either last or followed by an assistant turn. Such a turn keeps the cached prompt prefix intact,
which is why clients (Claude Code) send them. `place_system_turns` keeps the turns that may stay
and merges every other one into the top-level system prompt, in order.
"""

from __future__ import annotations

from gateway.translate.anthropic_wire import Turn

MID_CONVERSATION_SYSTEM_MODELS = frozenset({"claude-opus-4-8"})


def accepts_system_turns(provider: str, model: str) -> bool:
    """Whether Anthropic's own API takes `system` turns inside `messages` for this model."""
    return provider == "anthropic" and model in MID_CONVERSATION_SYSTEM_MODELS


def place_system_turns(messages: list[Turn], system: list[str]) -> list[Turn]:
    """Anthropic messages with `system` turns left only where allowed; the others' text joins
    `system` (in order) and the turns around them merge, so roles still alternate."""
    out: list[Turn] = []
    for i, message in enumerate(messages):
        if message.role == "system":
            after = messages[i + 1].role if i + 1 < len(messages) else None
            if out and out[-1].role == "user" and after in {None, "assistant"}:
                out.append(message)
            else:
                system.extend(block.text or "" for block in message.content)
            continue
        if out and out[-1].role == message.role:
            out[-1].content.extend(message.content)
        else:
            out.append(message)
    return out
