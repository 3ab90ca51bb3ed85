"""The kiosk's camera state in a small file, so `booth doctor` can ask the running kiosk.

A camera opens for one process only: while the kiosk runs, the doctor cannot open it and would
report a false failure. The kiosk's camera watchdog writes this file (off the main thread) on
every change of state or fault; the doctor reads it and checks that the writer is still alive on
this boot. The operator view can read the same file.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from booth.clock import boot_id
from booth.fsutil import atomic_write

HEALTH_FILE = "kiosk-camera.json"


@dataclass(frozen=True)
class CameraHealth:
    pid: int
    boot_id: str
    state: str  # starting | live | reconnecting
    backend: str | None  # the backend in use (None while none opened)
    fault: str | None  # why the camera is not live, in words for the operator
    trouble_s: float  # seconds the camera has not been live (0 when live)
    restarts: int

    def alive(self) -> bool:
        """The process that wrote this is still running, on this boot (a PID from an earlier
        boot means nothing now)."""
        if self.boot_id != boot_id() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by another user (the booth user)
        return True


def health_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / HEALTH_FILE


def read_health(path: str | Path) -> CameraHealth | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return CameraHealth(**data)
    except (OSError, ValueError, TypeError):
        return None


class HealthWriter:
    """Writes the latest CameraHealth on a short-lived thread; the caller never waits on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._latest: CameraHealth | None = None
        self._busy = False

    def publish(self, health: CameraHealth) -> None:
        with self._lock:
            self._latest = health
            if self._busy:
                return  # the running writer picks the latest up
            self._busy = True
        threading.Thread(target=self._drain, name="cam-health", daemon=True).start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                health, self._latest = self._latest, None
                if health is None:
                    self._busy = False
                    return
            try:
                atomic_write(self.path, json.dumps(asdict(health)).encode())
            except OSError:
                pass  # a full or read-only disk: the doctor then opens the camera itself
