"""Helpers shared by the test suites (real broker, free ports, screenshots)."""
