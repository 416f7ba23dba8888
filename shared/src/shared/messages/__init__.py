"""Typed bus payloads (msgspec Structs only). New fields always get a default."""
