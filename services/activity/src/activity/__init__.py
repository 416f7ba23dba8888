"""Keyrelay activity service."""
