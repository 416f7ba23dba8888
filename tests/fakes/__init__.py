"""Test doubles for the world outside Keyrelay (LLM vendors)."""
