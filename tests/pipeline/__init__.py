"""Tests for the CDK-free pipeline scripts (release, invalidate, smoke, migrate --image)."""
