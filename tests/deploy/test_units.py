"""The systemd units: `systemd-analyze verify` passes, and each has what the booth relies on."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploytools import REPO

UNITS = ["booth-kiosk", "booth-worker", "booth-share"]
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def verify_root(tmp_path: Path) -> Path:
    """A throwaway root holding the OS's units and an executable /opt/booth/venv/bin/booth, so
    verify checks our units (ExecStart must exist) without touching this machine's /opt."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    root = tmp_path / "vroot"
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    booth = root / "opt/booth/venv/bin/booth"
    booth.parent.mkdir(parents=True)
    booth.write_text("#!/bin/sh\nexit 0\n")
    booth.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    return root


def verify(root: Path, names: list[str]) -> subprocess.CompletedProcess:
    paths = [str(root / "etc/systemd/system" / n) for n in names]
    return subprocess.run(
        ["systemd-analyze", f"--root={root}", "verify", *paths],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )


def test_systemd_analyze_verify_passes_on_every_unit(tmp_path):
    root = verify_root(tmp_path)
    for unit in UNITS:
        shutil.copy(REPO / "systemd" / f"{unit}.service", root / "etc/systemd/system")
    out = verify(root, [f"{u}.service" for u in UNITS])
    assert out.returncode == 0 and out.stdout.strip() == "" and out.stderr.strip() == "", (
        out.stdout + out.stderr
    )


def test_verify_catches_a_mistake(tmp_path):
    """The check above can fail: a misspelt key is reported."""
    root = verify_root(tmp_path)
    text = (REPO / "systemd/booth-worker.service").read_text()
    (root / "etc/systemd/system/booth-broken.service").write_text(
        text.replace("ProtectSystem=strict", "ProtectSystm=strict")
    )
    out = verify(root, ["booth-broken.service"])
    assert "Unknown key" in out.stderr + out.stdout


class CaseSensitive(configparser.ConfigParser):
    """Keys keep their case, as systemd reads them."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def unit(name: str) -> configparser.ConfigParser:
    cp = CaseSensitive(strict=False, interpolation=None)
    # systemd allows repeated keys; configparser keeps the last, so read the raw lines too.
    cp.read_string((REPO / "systemd" / f"{name}.service").read_text())
    return cp


def raw(name: str) -> list[str]:
    return [ln.strip() for ln in (REPO / "systemd" / f"{name}.service").read_text().splitlines()]


@pytest.mark.parametrize("name", UNITS)
def test_unit_restarts_watchdog_and_hardening(name):
    s = unit(name)["Service"]
    assert s["Type"] == "notify"
    assert s["Restart"] == "always"
    assert int(s["WatchdogSec"]) > 0
    assert s["RestartPreventExitStatus"] == "78"
    assert s["User"] == "booth"
    assert s["ExecStart"].startswith("/opt/booth/venv/bin/booth ")
    assert s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict"
    assert s["ReadWritePaths"] == "/var/lib/booth"
    assert s["PrivateTmp"] == "yes" and s["ProtectHome"] == "yes"
    assert s["StandardOutput"] == "journal" and s["StandardError"] == "journal"
    u = unit(name)["Unit"]
    assert "mosquitto.service" in u["After"]
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_kiosk_runs_on_the_console_with_kmsdrm():
    s = unit("booth-kiosk")["Service"]
    lines = raw("booth-kiosk")
    assert "Environment=SDL_VIDEODRIVER=kmsdrm" in lines
    assert s["TTYPath"] == "/dev/tty1"
    assert "getty@tty1.service" in unit("booth-kiosk")["Unit"]["Conflicts"]
    assert "EnvironmentFile=/etc/booth/kiosk.env" in lines
    # camera, display and touch need /dev: the kiosk must not hide devices.
    assert "PrivateDevices" not in s


def test_worker_and_share_lose_devices_and_capabilities():
    for name in ("booth-worker", "booth-share"):
        s = unit(name)["Service"]
        assert s["PrivateDevices"] == "yes"
        assert s["CapabilityBoundingSet"] == ""
    assert "EnvironmentFile=/etc/booth/worker.env" in raw("booth-worker")


def test_each_unit_loads_only_the_secrets_its_process_uses():
    """The Gemini key only for the worker, the operator password only for the share server,
    each MQTT login only for its own role; the booth Wi-Fi (optional: "-") for the two processes
    that show or serve it."""
    files = {
        name: {ln.split("=", 1)[1] for ln in raw(name) if ln.startswith("EnvironmentFile=")}
        for name in UNITS
    }
    assert files == {
        "booth-kiosk": {"/etc/booth/kiosk.env", "-/etc/booth/hotspot.env"},
        "booth-worker": {"/etc/booth/secrets.env", "/etc/booth/worker.env"},
        "booth-share": {
            "/etc/booth/share.env",
            "/etc/booth/admin.env",
            "-/etc/booth/hotspot.env",
            "/etc/booth/cloud.env",
        },
    }


@pytest.mark.parametrize("name", UNITS)
def test_security_exposure_is_low(tmp_path, name):
    """`systemd-analyze security` (offline) rates each unit's hardening; keep it at 'OK' level."""
    import re

    root = verify_root(tmp_path)
    shutil.copy(REPO / "systemd" / f"{name}.service", root / "etc/systemd/system")
    out = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            f"--root={root}",
            "--no-pager",
            f"{name}.service",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout + out.stderr)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= 3.0, out.stdout


def test_share_unit_has_descriptors_for_an_event():
    """systemd's default (1024) was exhausted by one phone's idle sockets; the server's own
    connection caps are sized from this limit (share/conncaps.py)."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "systemd" / "booth-share.service")
    assert int(unit["Service"]["LimitNOFILE"]) >= 8192
