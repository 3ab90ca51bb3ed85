"""The contract: what every process of the booth agrees on (protocol, config, MQTT, images).

This package imports nothing else of the project; kiosk, share, worker, jobstore and the
`booth` command all build on it.
"""

__version__ = "0.1.0"
