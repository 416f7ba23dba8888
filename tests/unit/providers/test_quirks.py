"""OpenAI-compatible stream quirks (providers.md 20.8), one golden stream per vendor."""

from __future__ import annotations

from typing import Any, cast

import aiohttp
import msgspec
import pytest

from gateway.providers.azure import AzureAdapter
from gateway.providers.base import ProviderError, Target
from gateway.providers.deepinfra import DeepInfraAdapter
from gateway.providers.groq import GroqAdapter
from gateway.providers.minimax import MiniMaxAdapter, ThinkSplitter, split_think
from gateway.providers.moonshot import MoonshotAdapter
from gateway.providers.openai import OpenAIAdapter
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.providers.perplexity import PerplexityAdapter, merge_turns
from gateway.wire.sse import SseEvent
from shared.messages.usage import Usage
from tests.unit.providers.conftest import as_json, chat_input, strict_chunk

NO_SESSION = cast("aiohttp.ClientSession", None)  # these tests never reach the network
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def c(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta if delta is not None else {}, "finish_reason": finish}
    return {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice], **extra}


def run(adapter: OpenAICompatAdapter, items: list[Any]) -> tuple[list[dict[str, Any]], Usage | None]:
    normalizer = adapter.normalizer()
    out: list[dict[str, Any]] = []
    for item in items:
        data = item if isinstance(item, str) else msgspec.json.encode(item).decode()
        out += [strict_chunk(chunk) for chunk in normalizer.feed(SseEvent(None, data))]
        if normalizer.finished:
            break
    out += [strict_chunk(chunk) for chunk in normalizer.end()]
    return out, normalizer.usage


def prepare(adapter: OpenAICompatAdapter, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
    """The body the adapter would send, as JSON."""
    return as_json(adapter.prepare(chat_input(body).payload(), target, stream).fields)


def test_azure_filter_only_chunks_are_skipped_and_annotations_dropped():
    """The empty first chunk with prompt_filter_results and delta-less filter chunks never reach clients."""
    chunks, _ = run(
        AzureAdapter(NO_SESSION),
        [
            {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [{}]},
            c({"role": "assistant", "content": ""}),
            c({"content": "Hi"}),
            {**c(), "choices": [{"index": 0, "finish_reason": None, "content_filter_results": {}}]},
            c({}, "stop"),
            {**c(), "choices": [], "usage": USAGE},
            "[DONE]",
        ],
    )
    assert [ch["choices"][0]["delta"] for ch in chunks] == [{"role": "assistant", "content": ""}, {"content": "Hi"}, {}]


def test_groq_usage_comes_from_x_groq_and_reasoning_is_renamed():
    """x_groq.usage on the finish chunk; `reasoning` becomes `reasoning_content`; x_groq is dropped."""
    chunks, usage = run(
        GroqAdapter(NO_SESSION),
        [
            c({"role": "assistant", "content": ""}, x_groq={"id": "req_1"}),
            c({"reasoning": "hmm"}),
            c({}, "stop", x_groq={"id": "req_1", "usage": {**USAGE, "queue_time": 0.1}}),
            "[DONE]",
        ],
    )
    assert chunks[1]["choices"][0]["delta"] == {"reasoning_content": "hmm"}
    assert all("x_groq" not in ch for ch in chunks)
    assert usage == Usage(prompt_tokens=4, completion_tokens=2, total_tokens=6)


def test_moonshot_usage_inside_the_choice_is_read_once_even_when_repeated():
    """choices[0].usage, the same at top level and again in a usage-only chunk: counted once."""
    chunks, usage = run(
        MoonshotAdapter(NO_SESSION),
        [
            c({"role": "assistant", "content": "ok"}),
            {
                **c({}, "stop"),
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": USAGE}],
                "usage": USAGE,
            },
            {**c(), "choices": [], "usage": USAGE},
            "[DONE]",
        ],
    )
    assert usage == Usage(prompt_tokens=4, completion_tokens=2, total_tokens=6)
    assert all("usage" not in ch and "usage" not in ch["choices"][0] for ch in chunks)


def test_perplexity_closing_chunk_ends_the_stream_without_done():
    """Usage on every chunk (last wins); `chat.completion.done` is terminal and rewritten; citations stay."""
    chunks, usage = run(
        PerplexityAdapter(NO_SESSION),
        [
            c({"role": "assistant", "content": ""}, usage={**USAGE, "completion_tokens": 0}, citations=["u"]),
            c({"content": "Hi"}, usage={**USAGE, "completion_tokens": 1}, citations=["u"]),
            {**c({}, "stop", usage=USAGE, citations=["u"]), "object": "chat.completion.done"},
        ],
    )
    assert [ch["object"] for ch in chunks] == ["chat.completion.chunk"] * 3
    assert all(ch["citations"] == ["u"] for ch in chunks)
    assert usage is not None
    assert usage.completion_tokens == 2


def test_perplexity_usage_carries_its_own_cost_when_it_reports_one():
    """`usage.cost.total_cost` (search fees included) becomes the usage's cost; without it, none."""
    cost = {"input_tokens_cost": 0.00001, "output_tokens_cost": 0.00002, "request_cost": 0.012, "total_cost": 0.01203}
    _, usage = run(
        PerplexityAdapter(NO_SESSION),
        [{**c({"content": "Hi"}, "stop", usage={**USAGE, "cost": cost}), "object": "chat.completion.done"}],
    )
    assert usage is not None
    assert usage.cost_usd == pytest.approx(0.01203)
    assert PerplexityAdapter(NO_SESSION).response_usage(USAGE).cost_usd is None


def test_perplexity_gets_an_agent_conversation_folded_into_alternating_text():
    """Tool calls and results become text, late system turns user text, same roles merge, and the
    turns after the system message start and end with the user: what Perplexity accepts."""
    target = Target(adapter="perplexity", provider="perplexity", base_url="http://h", model="sonar")
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    body = {
        "model": "sonar",
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        "tool_choice": "auto",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "developer", "content": "answer in French"},
        ],
    }
    sent = prepare(PerplexityAdapter(NO_SESSION), body, target, False)
    assert "tools" not in sent
    assert "tool_choice" not in sent
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "(continue)"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": '[called tool get_weather with {"city":"Paris"}]'},
        {"role": "user", "content": "[result of get_weather]\nsunny\n\nanswer in French"},
    ]


def test_a_repeated_finish_reason_is_sent_once():
    """Some hosts repeat the finish chunk: clients see exactly one."""
    chunks, _ = run(OpenAIAdapter(NO_SESSION), [c({"role": "assistant"}), c({}, "stop"), c({}, "stop"), "[DONE]"])
    assert [ch["choices"][0]["finish_reason"] for ch in chunks] == [None, "stop"]


def test_deepinfra_reasoning_tokens_missing_from_completion_are_added():
    """reasoning_tokens > completion_tokens means they were left out: add them."""
    _, usage = run(
        DeepInfraAdapter(NO_SESSION),
        [
            c(
                {},
                "stop",
                usage={
                    "prompt_tokens": 3,
                    "completion_tokens": 5,
                    "total_tokens": 8,
                    "completion_tokens_details": {"reasoning_tokens": 40},
                },
            ),
            "[DONE]",
        ],
    )
    assert usage == Usage(prompt_tokens=3, completion_tokens=45, reasoning_tokens=40, total_tokens=48)


def test_a_midstream_error_chunk_raises():
    """`data: {"error": ...}` after the first chunk is raised, mapped by its type."""
    with pytest.raises(ProviderError) as caught:
        run(OpenAIAdapter(NO_SESSION), [c({"role": "assistant"}), {"error": {"type": "server_error", "message": "x"}}])
    assert caught.value.code == "upstream_error"


@pytest.mark.parametrize("cut", range(1, 24))
def test_minimax_think_tags_cut_anywhere_still_split_reasoning_from_text(cut):
    """`<think>...</think>` across chunk boundaries: reasoning and text come out whole."""
    content = "<think>ponder it</think>\nAnswer!"
    pieces = [content[:cut], content[cut:]]
    chunks, _ = run(
        MiniMaxAdapter(NO_SESSION),
        [c({"role": "assistant", "content": ""}), *[c({"content": p}) for p in pieces], c({}, "stop"), "[DONE]"],
    )
    reasoning = "".join(ch["choices"][0]["delta"].get("reasoning_content", "") for ch in chunks)
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    assert (reasoning, text) == ("ponder it", "Answer!")


def test_minimax_content_without_think_tags_is_untouched():
    """Plain answers (and `<` that is not a tag) pass through."""
    splitter = ThinkSplitter()
    assert splitter.feed("<th") == ("", "")  # could still become <think>: held back
    assert splitter.feed("ird>") == ("", "<third>")
    assert split_think("<think>a</think>b") == ("a", "b")


def test_vendor_request_fixups():
    """Groq strips unsupported fields; Perplexity merges turns and drops tools; OpenAI caps with
    max_completion_tokens; everyone asks for stream usage."""
    target = Target(adapter="x", provider="openai", base_url="http://h", model="up-model")
    body = {
        "model": "alias",
        "models": ["fallback"],
        "n": 1,
        "logprobs": True,
        "max_tokens": 5,
        "tools": [{}],
        "messages": [{"role": "user", "content": "a", "name": "n"}, {"role": "user", "content": "b"}],
    }
    groq = prepare(GroqAdapter(NO_SESSION), body, target, True)
    assert "logprobs" not in groq
    assert "n" not in groq
    assert "name" not in groq["messages"][0]
    assert groq["stream_options"] == {"include_usage": True}
    assert groq["model"] == "up-model"
    assert "models" not in groq
    perplexity = prepare(PerplexityAdapter(NO_SESSION), body, target, False)
    assert perplexity["messages"] == [{"role": "user", "content": "a\n\nb", "name": "n"}]
    assert "tools" not in perplexity
    assert prepare(OpenAIAdapter(NO_SESSION), body, target, False)["max_completion_tokens"] == 5
    assert body["messages"][0] == {"role": "user", "content": "a", "name": "n"}  # the request is never changed
    turns = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
        {"role": "user", "content": "b"},
    ]
    merged = as_json(merge_turns(turns))
    assert merged[0]["content"][1] == {"type": "text", "text": "b"}


def test_azure_builds_deployment_urls_or_the_v1_surface():
    """Classic: deployment path + api-version; `api_version: v1`: the version-less v1 API."""
    adapter = AzureAdapter(NO_SESSION)
    classic = Target(
        adapter="azure",
        provider="azure",
        base_url="https://r.openai.azure.com/openai",
        model="gpt",
        options={"deployment": "dep", "api_version": "2025-04-01-preview"},
    )
    assert adapter.url(classic, "/chat/completions") == (
        "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2025-04-01-preview"
    )
    v1 = Target(
        adapter="azure",
        provider="azure",
        base_url="https://r.openai.azure.com/openai",
        model="gpt",
        options={"deployment": "dep", "api_version": "v1"},
    )
    assert adapter.url(v1, "/chat/completions") == "https://r.openai.azure.com/openai/v1/chat/completions"
    assert prepare(adapter, {"messages": []}, v1, False)["model"] == "dep"


@pytest.mark.parametrize("version", ["latest", "preview"])
def test_azure_latest_and_preview_versions_reach_the_v1_surface_with_their_version(version: str) -> None:
    """`latest` / `preview` are the v1 API's own versions: /openai/v1/... with that api-version."""
    target = Target(
        adapter="azure",
        provider="azure",
        base_url="https://r.openai.azure.com/openai",
        model="gpt",
        options={"deployment": "dep", "api_version": version},
    )
    assert AzureAdapter(NO_SESSION).url(target, "/chat/completions") == (
        f"https://r.openai.azure.com/openai/v1/chat/completions?api-version={version}"
    )
    assert prepare(AzureAdapter(NO_SESSION), {"messages": []}, target, False)["model"] == "dep"
