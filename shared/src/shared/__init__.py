"""Pieces every Keyrelay service shares: subjects, messages, settings, logging, secrets."""
