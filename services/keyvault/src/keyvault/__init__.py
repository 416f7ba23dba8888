"""Keyrelay keyvault: holds encrypted provider credentials."""

from shared.lean import import_without

# nats-py loads aiohttp (about 8 MiB) for its websocket transport: this service speaks nats:// and
# tls:// only (its image has no aiohttp). See `shared.lean`.
import_without("nats", "aiohttp")
