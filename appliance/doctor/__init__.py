"""`booth doctor`: check this machine the way the booth will use it and say what to fix.

An event technician runs it after install and before doors open. Every check returns one
:class:`Check` (ok / warn / fail, what was found, how to fix it); any fail makes the exit code 1.
Checks are plain functions of the config and a :class:`Probe` (environment, device paths,
commands) so tests can point them at a fake /dev or environment without touching the real one.
`--print-config` prints the effective configuration with secrets masked instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from appliance.doctor.broker import check_broker, check_workers
from appliance.doctor.gemini import check_api_key
from appliance.doctor.hotspot import check_hotspot, dns_query_a
from appliance.doctor.machine import (
    check_camera,
    check_clock,
    check_disk,
    check_display,
    check_ledger,
)
from appliance.doctor.printing import check_printer
from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from appliance.doctor.sharing import check_cloud, check_share_server, check_share_url
from booth.config import Config, ConfigError, describe, load_config

__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "Check",
    "Probe",
    "check_api_key",
    "check_broker",
    "check_camera",
    "check_clock",
    "check_cloud",
    "check_disk",
    "check_display",
    "check_hotspot",
    "check_ledger",
    "check_printer",
    "check_share_server",
    "check_share_url",
    "check_workers",
    "dns_query_a",
    "format_checks",
    "read_env_file",
    "run",
    "run_checks",
]


# ------------------------------------------------------------------------------- driver
BOOTH_CHECKS = (
    "camera",
    "display",
    "broker",
    "workers",
    "api key",
    "disk",
    "ledger",
    "clock",
    "share url",
    "share server",
    "hotspot",
    "cloud",
    "printer",
)
WORKER_CHECKS = ("broker", "workers", "api key", "disk", "clock")


def run_checks(
    cfg: Config, probe: Probe | None = None, *, offline: bool = False, role: str = "booth"
) -> list[Check]:
    probe = probe or Probe()
    funcs: dict[str, Callable[[], Check]] = {
        "camera": lambda: check_camera(cfg, probe),
        "display": lambda: check_display(cfg, probe),
        "broker": lambda: check_broker(cfg, probe),
        "workers": lambda: check_workers(cfg, probe, role),
        "api key": lambda: check_api_key(cfg, probe, offline),
        "disk": lambda: check_disk(cfg, probe),
        "ledger": lambda: check_ledger(cfg, probe),
        "clock": lambda: check_clock(cfg, probe),
        "share url": lambda: check_share_url(cfg, probe),
        "share server": lambda: check_share_server(cfg, probe),
        "hotspot": lambda: check_hotspot(cfg, probe),
        "cloud": lambda: check_cloud(cfg, probe),
        "printer": lambda: check_printer(cfg, probe),
    }
    names = BOOTH_CHECKS if role == "booth" else WORKER_CHECKS
    results = []
    for name in names:
        try:
            results.append(funcs[name]())
        except Exception as exc:  # one broken check must not hide the others
            results.append(
                Check(
                    name,
                    FAIL,
                    f"the check itself failed: {type(exc).__name__}: {exc}",
                    "report this as a bug",
                )
            )
    return results


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"[{c.level:^4}] {c.name:<{width}}  {c.found}")
        if c.fix and c.level != OK:
            lines.append(f"       {'':<{width}}  fix: {c.fix}")
    fails = sum(c.level == FAIL for c in checks)
    warns = sum(c.level == WARN for c in checks)
    lines.append(f"{fails} fail, {warns} warn, {len(checks) - fails - warns} ok")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (secrets masked) and exit",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="do not call the Gemini API (only check that a key is set)",
    )
    p.add_argument(
        "--role",
        choices=("booth", "worker"),
        default="booth",
        help="'worker' skips camera, display, share and cloud checks (a worker-only machine)",
    )
    p.add_argument(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read KEY=value lines like systemd's EnvironmentFile= before checking "
        "(e.g. /etc/booth/secrets.env and /etc/booth/kiosk.env); repeatable",
    )


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=value lines as systemd reads them (comments and blank lines skipped, quotes removed)."""
    out: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def run(cfg: Config, args: argparse.Namespace) -> int:
    if getattr(args, "print_config", False):
        rows = describe(cfg)
        width = max(len(k) for k, _, _ in rows)
        print(f"# config: {cfg.source}")
        for key, shown, doc in rows:
            print(f"{key:<{width}} = {shown}    # {doc}")
        return 0
    env_files = getattr(args, "env_file", None) or []
    probe = Probe()
    if env_files:
        env = dict(os.environ)
        try:
            for path in env_files:
                env.update(read_env_file(path))
            cfg = load_config(getattr(args, "config", None), env=env)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"booth doctor: cannot read env file: {exc}", file=sys.stderr)
            return 78
        except ConfigError as exc:
            print(f"booth doctor: configuration error: {exc}", file=sys.stderr)
            return 78
        probe = Probe(env=env)
    checks = run_checks(
        cfg, probe, offline=getattr(args, "offline", False), role=getattr(args, "role", "booth")
    )
    print(format_checks(checks))
    sys.stdout.flush()
    return 1 if any(c.level == FAIL for c in checks) else 0
