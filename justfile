# Keyrelay tasks. `./run <recipe>` installs everything first; `just <recipe>` works inside the venv.
set shell := ["bash", "-euo", "pipefail", "-c"]
python := ".venv/bin/python"

# List the recipes
default:
    @just --list

# The real stack (nats-server, SecantusDB, 4 services; real providers; KEYRELAY_* settings) until Ctrl-C
[group('run')]
[positional-arguments]
[no-exit-message]
up *args:
    @{{python}} -m shared.cli up "$@"

# Stop a stack started with `just up --background`
[group('run')]
[no-exit-message]
down:
    @{{python}} -m shared.cli down

# An org, its owner and a default project on the running stack (JSON with the owner token, shown once)
[group('run')]
[positional-arguments]
[no-exit-message]
bootstrap *args:
    @{{python}} -m shared.cli bootstrap "$@"

# A demo stack with FAKE providers: bootstrap, an integration, a normal and a streamed request, the records
[group('run')]
demo:
    {{python}} scripts/demo.py

# docs/providers.md from the catalog data (a test fails when the committed page drifts)
[group('check')]
providers-doc:
    {{python}} -m catalog.providers_doc --write docs/providers.md

# Every test, against a real nats-server and a real SecantusDB started on free ports
[group('check')]
test *args:
    {{python}} -m pytest -q {{args}}

# ruff and mypy (strict)
[group('check')]
lint:
    {{python}} -m ruff check shared services tests scripts
    {{python}} -m mypy shared/src services/gateway/src services/keyvault/src services/catalog/src services/activity/src

# The bus contract as AsyncAPI 3.0 (docs/asyncapi.yaml) from shared/subjects.py, shared/contract.py and the msgspec messages
[group('check')]
asyncapi:
    {{python}} -m shared.asyncapi docs/asyncapi.yaml

# Responder latency per request-reply: FastStream (catalog, activity) vs nats-py (keyvault), one nats-server
[group('check')]
bench-bus *args:
    {{python}} scripts/bench_bus.py {{args}}

# Keyrelay vs LiteLLM proxy vs Portkey gateway (installed at bench time) on one fake upstream: latency, req/s, streams, CPU, RSS (`--no-peers`, `--reps`, `--seconds`)
[group('check')]
bench *args:
    {{python}} scripts/bench.py {{args}}

# bounded soak: fixed request rate, RSS of every process of the stack (`--duration 600` by default)
[group('check')]
soak *args:
    {{python}} scripts/soak.py {{args}}

# Server-side render time of every console page with 10,000 activity records
[group('check')]
bench-console *args:
    {{python}} scripts/bench_console.py {{args}}

# `just bench` for another commit and this checkout, alternated in one run (e.g. `just bench-ab origin/main`)
[group('check')]
bench-ab base *args:
    {{python}} scripts/bench_ab.py {{base}} {{args}}

# CPU per request of every process of the stack for a fixed amount of work, two commits alternated (e.g. `just bench-cpu-ab main`)
[group('check')]
bench-cpu-ab base *args:
    {{python}} scripts/bench_cpu_ab.py {{base}} {{args}}

# The floor of the gateway's CPU per request: bare granian, hello-world Litestar, Litestar + one aiohttp call, the gateway (`--requests`, `--reps`)
[group('check')]
bench-floor *args:
    {{python}} scripts/bench_floor.py {{args}}

# The production shape on one machine: 3-node NATS cluster (TLS, JetStream R3), 2 replicas of every service, HAProxy if installed
[group('run')]
[positional-arguments]
[no-exit-message]
cluster *args:
    @{{python}} scripts/cluster.py "$@"
