"""Keyrelay keyvault: holds encrypted provider credentials."""
