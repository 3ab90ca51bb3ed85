"""install.sh for real (no --root): run as root inside a private mount namespace where /etc, /var
and /opt are overlays, so it really creates the booth user, chowns, and calls apt-get and
systemctl (stubs that record their calls) without changing this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploytools import INSTALL, snapshot

STUB_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$STUB_STATE/calls"
"""
STUB_APT = """#!/bin/sh
echo "apt-get $*" >> "$STUB_STATE/calls"
if [ "$1" = "update" ]; then exit 0; fi
for a in "$@"; do case "$a" in -*|install) ;; *) echo "$a" >> "$STUB_STATE/installed" ;; esac; done
"""
# dpkg-query sees what the stub apt-get "installed", the real database for the rest.
STUB_DPKG_QUERY = """#!/bin/sh
for last in "$@"; do :; done
if [ -f "$STUB_STATE/installed" ] && grep -qx "$last" "$STUB_STATE/installed"; then
    printf 'install ok installed'; exit 0
fi
exec /usr/bin/dpkg-query "$@"
"""

INSPECT = """
echo '--- inspect'
for p in /var/lib/booth /etc/booth /etc/booth/booth.toml /etc/booth/secrets.env \
         /etc/booth/kiosk.env /etc/mosquitto/booth.passwd /etc/mosquitto/booth.acl \
         /etc/mosquitto/conf.d/booth.conf /etc/systemd/system/booth-kiosk.service; do
    stat -c '%n %U:%G %a' "$p"
done
echo "groups $(id -nG booth)"
"""


def namespace_run(tmp_path: Path) -> subprocess.CompletedProcess:
    ovl = tmp_path / "ovl"
    mounts = []
    for d in ("etc", "var", "opt"):
        (ovl / d / "u").mkdir(parents=True, exist_ok=True)
        (ovl / d / "w").mkdir(parents=True, exist_ok=True)
        mounts.append(
            f"mount -t overlay overlay -o lowerdir=/{d},upperdir={ovl}/{d}/u,"
            f"workdir={ovl}/{d}/w /{d}"
        )
    script = (
        "set -e\n" + "\n".join(mounts) + f"\nbash {INSTALL} --booth-id b1 --no-venv\n" + INSPECT
    )
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'stubs'}:{os.environ['PATH']}",
        "STUB_STATE": str(tmp_path / "state"),
    }
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


@pytest.fixture
def sandbox(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in (
        ("systemctl", STUB_SYSTEMCTL),
        ("apt-get", STUB_APT),
        ("dpkg-query", STUB_DPKG_QUERY),
    ):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    (tmp_path / "state").mkdir()
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            f"mkdir -p {tmp_path}/p/u {tmp_path}/p/w && mount -t overlay overlay "
            f"-o lowerdir=/opt,upperdir={tmp_path}/p/u,workdir={tmp_path}/p/w "
            "/opt",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"overlay mounts are not available here: {probe.stderr.strip()}")
    return tmp_path


def calls(tmp_path: Path) -> list[str]:
    f = tmp_path / "state" / "calls"
    lines = f.read_text().splitlines() if f.exists() else []
    f.unlink(missing_ok=True)
    return lines


def inspect(out: subprocess.CompletedProcess) -> dict[str, str]:
    part = out.stdout.split("--- inspect\n", 1)[1]
    return {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in part.splitlines() if ln}


def test_real_install_creates_user_owners_and_services(sandbox):
    host_passwd = Path("/etc/passwd").read_bytes()
    first = namespace_run(sandbox)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changed: created user booth" in first.stdout
    assert "dry:" not in first.stdout
    info = inspect(first)
    assert info["/var/lib/booth"] == "booth:booth 750"
    assert info["/etc/booth"] == "root:booth 750"
    assert info["/etc/booth/booth.toml"] == "root:booth 640"
    assert info["/etc/booth/secrets.env"] == "root:root 600"
    assert info["/etc/booth/kiosk.env"] == "root:root 600"
    assert info["/etc/mosquitto/booth.passwd"] == "root:mosquitto 640"
    assert info["/etc/mosquitto/booth.acl"] == "root:mosquitto 640"
    assert info["/etc/systemd/system/booth-kiosk.service"] == "root:root 644"
    groups = info["groups"].split()
    for g in ("video", "render", "input", "gpio"):
        if subprocess.run(["getent", "group", g], capture_output=True).returncode == 0:
            assert g in groups, groups
    made = calls(sandbox)
    print("\n".join(made))
    assert "systemctl daemon-reload" in made
    assert "systemctl restart mosquitto" in made
    assert "systemctl enable --quiet mosquitto booth-worker booth-share booth-kiosk" in made
    assert "systemctl mask --quiet getty@tty1.service" in made
    assert "systemctl restart booth-worker booth-share booth-kiosk" in made
    if any(c.startswith("apt-get install") for c in made):
        assert made[0] == "apt-get update -qq"

    before = {d: snapshot(sandbox / "ovl" / d / "u") for d in ("etc", "var", "opt")}
    second = namespace_run(sandbox)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "install: done: no changes" in second.stdout, second.stdout
    again = calls(sandbox)
    assert not any(
        c.startswith(("apt-get", "systemctl restart", "systemctl daemon-reload")) for c in again
    ), again
    assert "systemctl start booth-worker booth-share booth-kiosk" in again
    assert {d: snapshot(sandbox / "ovl" / d / "u") for d in ("etc", "var", "opt")} == before
    # Nothing leaked out of the namespace onto this machine.
    assert Path("/etc/passwd").read_bytes() == host_passwd
    assert not Path("/etc/mosquitto/booth.acl").exists()
    assert not Path("/etc/systemd/system/booth-kiosk.service").exists()
