"""What every check returns (:class:`Check`) and what it looks at (:class:`Probe`): the
environment, device paths and commands, so tests point checks at a fake /dev or environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from booth.clock import ntp_synchronized

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    level: str  # ok | warn | fail
    found: str
    fix: str = ""


@dataclass
class Probe:
    """What the checks look at; the defaults are this machine."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    dev: Path = Path("/dev")
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # the defaults below are defined after the class: looked up when a Probe is made
    run: Callable[[list[str]], str | None] = field(default_factory=lambda: _run_quiet)
    broker_timeout_s: float = 5.0
    use_kiosk_probe: bool = True  # open the cameras with the kiosk's own backends
    api_timeout_s: float = 15.0
    nm_run_dir: Path = Path("/run")  # NetworkManager's pid file of the hotspot's dnsmasq
    nm_state_dir: Path = Path("/var/lib/NetworkManager")  # and its DHCP lease file
    hotspot_timeout_s: float = 3.0
    synchronized: Callable[[], bool | None] = ntp_synchronized  # has NTP set the clock?
    install_time: Callable[[], float | None] = field(default_factory=lambda: _install_time)


def _install_time() -> float | None:
    """When this installation was made: the venv's creation and install.sh's install stamp
    (files written while the clock was whatever it was then — a floor for the true time)."""
    times = []
    for name in ("pyvenv.cfg", ".booth-source"):
        try:
            times.append((Path(sys.prefix) / name).stat().st_mtime)
        except OSError:
            pass
    return max(times) if times else None


def _run_quiet(argv: list[str]) -> str | None:
    """stdout of a command, or None when it is missing or fails (doctor never crashes on it)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None
