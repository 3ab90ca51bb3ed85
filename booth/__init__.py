"""Drip Me Out: what kiosk and worker must agree on (protocol, configuration, MQTT, CLI)."""

__version__ = "0.1.0"
