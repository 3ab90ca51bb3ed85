"""systemd notifications (READY=1, WATCHDOG=1, STOPPING=1) without a dependency.

A no-op outside systemd (no $NOTIFY_SOCKET). The kiosk pings the watchdog from its frame loop,
so a frozen screen gets the unit restarted.
"""

from __future__ import annotations

import os
import socket
import time

_last_ping = 0.0


def notify(state: str) -> bool:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall(state.encode())
        return True
    except OSError:
        return False


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog(min_interval_s: float = 1.0) -> bool:
    """Ping the watchdog at most once per `min_interval_s` (cheap to call every frame)."""
    global _last_ping
    now = time.monotonic()
    if now - _last_ping < min_interval_s:
        return False
    _last_ping = now
    return notify("WATCHDOG=1")
