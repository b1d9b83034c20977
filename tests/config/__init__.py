"""Tests of `config/`: loading, validation messages, merging and immutability (no synth)."""
