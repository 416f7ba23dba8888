"""Keyrelay activity service."""

from shared.lean import import_without

# nats-py loads aiohttp (about 8 MiB) for its websocket transport: this service speaks nats:// and
# tls:// only (its image has no aiohttp); FastStream loads uvicorn for ASGI helpers it never runs here.
import_without("nats", "aiohttp")
import_without("faststream", "uvicorn")
