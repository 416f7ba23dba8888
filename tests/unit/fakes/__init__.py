"""Tests of the fake LLM providers themselves."""
