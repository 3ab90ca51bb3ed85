"""Wall time that may be wrong, and time that no clock jump can move.

A Raspberry Pi 4 has no battery-backed clock: at an offline event the wall clock can be weeks
behind until NTP syncs, and then it jumps. Anything that measures an age (download links,
retention) therefore records, next to the wall time, the boot it happened in (`boot_id`) and
CLOCK_BOOTTIME then — monotonic across wall-clock jumps, counting suspend — and whether the wall
clock was synchronized at that moment. jobstore/age.py turns these into an age.

"Synchronized" asks, in order: the kernel (adjtimex: STA_UNSYNC clear — what `timedatectl`
reports as NTPSynchronized; systemd's ProtectClock= filters the call out of our units), the flag
file systemd-timesyncd writes on its first sync, then `timedatectl` itself. Nothing known counts
as not synchronized, unless the operator trusts the clock (`trust_clock`, e.g. a Pi 5 with its
RTC battery).
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STA_UNSYNC = 0x0040  # <linux/timex.h>
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
SYNC_CACHE_S = 30.0


@functools.cache
def boot_id() -> str:
    """This boot's random id (the kernel makes a new one at every boot; read once: a process
    never outlives its boot, and the frame loop's camera reports ask for it)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def boottime() -> float:
    """Seconds since boot, suspend included; never jumps with the wall clock."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> (glibc, 64-bit and 32-bit alike: longs, then padding)
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("pad", ctypes.c_int * 11),
    ]


def _kernel_synchronized() -> bool | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        tx = _Timex()  # modes = 0: read only
        if libc.adjtimex(ctypes.byref(tx)) == -1:
            return None  # EPERM under a seccomp filter (ProtectClock=)
    except (OSError, AttributeError):
        return None
    return not tx.status & STA_UNSYNC


def _timedatectl_synchronized() -> bool | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value) if out.returncode == 0 else None


def ntp_synchronized() -> bool | None:
    """Has network time set this clock? None when nothing can tell."""
    kernel = _kernel_synchronized()
    if kernel is not None:
        return kernel
    if TIMESYNCD_FLAG.exists():
        return True
    return _timedatectl_synchronized()


@dataclass(frozen=True)
class BootStamp:
    """When something happened, in terms no wall-clock jump can change."""

    boot_id: str
    boot_time: float  # boottime() then
    clock_ok: bool  # the wall clock was synchronized (or trusted) then


class Clock(Protocol):
    boot_id: str

    def now(self) -> float: ...
    def boot_now(self) -> float: ...
    def synchronized(self) -> bool: ...


class SystemClock:
    """This machine's clocks. `wall` replaces time.time (tests, a fixed `now`)."""

    def __init__(self, trusted: bool = False, wall: Callable[[], float] | None = None) -> None:
        self.trusted = trusted
        self._wall = wall or time.time
        self.boot_id = boot_id()
        self._lock = threading.Lock()
        self._synced: bool | None = None
        self._checked = -1e9

    def now(self) -> float:
        return self._wall()

    def boot_now(self) -> float:
        return boottime()

    def synchronized(self) -> bool:
        if self.trusted:
            return True
        with self._lock:
            if time.monotonic() - self._checked < SYNC_CACHE_S:
                return bool(self._synced)
        synced = ntp_synchronized()
        with self._lock:
            self._synced, self._checked = synced, time.monotonic()
        return bool(synced)


def stamp(clock: Clock) -> BootStamp:
    return BootStamp(clock.boot_id, clock.boot_now(), clock.synchronized())
