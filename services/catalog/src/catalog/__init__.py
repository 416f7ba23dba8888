"""Keyrelay catalog service."""
