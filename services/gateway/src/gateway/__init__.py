"""Keyrelay gateway: the inference and management HTTP edge."""
