"""Pieces every Keyrelay service shares: subjects, messages, settings, logging, secrets."""

from shared.lean import import_without

# structlog loads `rich` (with pygments, about 3-5 MiB per process) for its default exception
# formatter and the repr of locals in tracebacks; `shared.logging` renders plain tracebacks without
# locals, so every process (each imports `shared` first) loads structlog without it.
import_without("structlog", "rich")
