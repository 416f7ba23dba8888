"""Faithful fake LLM providers for tests and the demo (test code, not product code).

One loopback aiohttp server emulates every provider family under a path prefix mirroring the
real base URL (`{root}/openai/v1`, `{root}/anthropic`, `{root}/google/v1beta`, ...). See
`server.FakeProviderServer` for the API and `faults.py` for the model-name fault markers.
"""

from tests.fakes.providers.harness import FakeProvidersThread, keys_from_json, run_in_thread
from tests.fakes.providers.server import FakeProviderServer, build_app, run_fake_providers
from tests.fakes.providers.service_accounts import make_assertion
from tests.fakes.providers.state import FakeOptions, RecordedRequest

FakeProviders = FakeProviderServer

__all__ = [
    "FakeOptions",
    "FakeProviderServer",
    "FakeProviders",
    "FakeProvidersThread",
    "RecordedRequest",
    "build_app",
    "keys_from_json",
    "make_assertion",
    "run_fake_providers",
    "run_in_thread",
]
