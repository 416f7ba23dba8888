"""The gateway's internal OpenAI-format boundary, shared by `providers/` and `translate/`.

`openai` holds the typed structs (chat request/response/chunk, embeddings, images), `sse` the
incremental SSE parser and `errors` the one mapping of upstream failures to `ProviderError`.
Dependencies run one way: `providers/` -> `translate/` -> `wire/`; `wire/` imports neither.
"""
