"""One booth per data directory: advisory locks that say who holds them.

Why: two `booth up` (or a `booth up` beside the systemd units) on one data directory means two
brokers on one persistence directory and two kiosks writing one ledger. Each long-running role
(`up`, `kiosk`, `share`, the private `broker`) takes `DATA_DIR/locks/ROLE.lock` with flock(2) for
its lifetime. The kernel drops the lock when the process ends however it ends (kill -9 included),
so a lock is never stale; the file itself only tells the next one who holds it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# sysexits' EX_TEMPFAIL: try again once the other one has stopped (systemd restarts the unit).
EXIT_ALREADY_RUNNING = 75

_WHAT = {
    "up": "`booth up`",
    "kiosk": "a kiosk",
    "share": "a share server",
    "printer": "a printer process",
    "broker": "a private broker",
    "ledger": "a ledger check",
}


class AlreadyRunning(RuntimeError):
    """The lock is held by another process; the text says which one and what to do."""

    def __init__(self, role: str, data_dir: Path, holder: dict[str, Any] | None) -> None:
        self.role = role
        self.data_dir = data_dir
        self.holder = holder or {}
        pid = self.holder.get("pid", "?")
        cmd = self.holder.get("cmd") or "another process"
        since = self.holder.get("started")
        when = time.strftime(" since %H:%M:%S %d %b", time.localtime(since)) if since else ""
        super().__init__(
            f"{_WHAT.get(role, role)} is already running for data dir {data_dir} "
            f"(pid {pid}: {cmd}{when}); one booth per data dir — stop that one first "
            f"(Ctrl-C in its terminal, `kill {pid}`, or `systemctl stop booth-{role}` for the "
            f"installed units), or give this one its own data dir (BOOTH_DATA_DIR)"
        )


def lock_path(data_dir: str | os.PathLike[str], role: str) -> Path:
    return Path(data_dir) / "locks" / f"{role}.lock"


class RunLock:
    """`RunLock(data_dir, role).acquire()` … `.release()` (or a `with` block)."""

    def __init__(self, data_dir: str | os.PathLike[str], role: str) -> None:
        self.data_dir = Path(data_dir)
        self.role = role
        self.path = lock_path(data_dir, role)
        self._fh: Any = None

    def acquire(self, wait_s: float = 0.0) -> RunLock:
        """Take the lock, waiting up to `wait_s`; raises AlreadyRunning when it stays held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    holder = _read(self.path)
                    fh.close()
                    raise AlreadyRunning(self.role, self.data_dir, holder) from None
                time.sleep(0.05)
        fh.seek(0)
        fh.truncate()
        fh.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "role": self.role,
                    "started": time.time(),
                    "cmd": " ".join(_short_argv()),
                }
            )
        )
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()  # closing the file drops the flock

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_locked(
    data_dir: str | os.PathLike[str], role: str, main: Callable[[], int], logger: logging.Logger
) -> int:
    """`main()` while holding `role`'s lock for `data_dir`; a second process of that role says
    who holds it and exits with EXIT_ALREADY_RUNNING (the `booth` command's processes)."""
    try:
        lock = RunLock(data_dir, role).acquire()
    except AlreadyRunning as exc:
        logger.error("%s: %s", role, exc)
        return EXIT_ALREADY_RUNNING
    try:
        return main()
    finally:
        lock.release()


def holder(data_dir: str | os.PathLike[str], role: str) -> dict[str, Any] | None:
    """Who holds `role`'s lock for `data_dir` right now, or None when nobody does."""
    path = lock_path(data_dir, role)
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path) or {}
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _short_argv() -> list[str]:
    """`booth kiosk …` rather than the interpreter's full path and `-m appliance.cli`."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("cli.py", "/booth")):
        argv[0] = "booth"
    return ["booth", *argv[1:]] if argv and argv[0] in ("-m", "-c") else argv[:8]
