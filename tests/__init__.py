"""Keyrelay test suite."""
