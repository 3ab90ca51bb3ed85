"""deploy/install.sh in a throwaway root: what it writes, with which owners and modes, and that a
second run changes nothing."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess

import pytest

from booth.config import load_config
from tests.deploy.deploytools import INSTALL, REPO, env_file, run_install, snapshot


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_twice_second_run_changes_nothing(tmp_path):
    root = tmp_path / "root"
    first = run_install(root, "--booth-id", "b1")
    assert "install: done: no changes" not in first.stdout
    assert "changed: wrote /etc/booth/booth.toml" in first.stdout
    before = snapshot(root)
    second = run_install(root, "--booth-id", "b1")
    assert "install: done: no changes" in second.stdout, second.stdout
    assert "changed:" not in second.stdout
    assert snapshot(root) == before


def test_a_broker_file_out_of_date_is_rewritten_and_mosquitto_restarted(tmp_path):
    """A change to a generated file (written through a pipe) counts: mosquitto is restarted."""
    root = tmp_path / "root"
    run_install(root, "--booth-id", "b1")
    acl = root / "etc/mosquitto/booth.acl"
    acl.write_text(acl.read_text() + "\n# a stale line\n")
    again = run_install(root, "--booth-id", "b1").stdout
    assert "changed: wrote /etc/mosquitto/booth.acl" in again
    assert "dry: would run: systemctl restart mosquitto" in again
    assert "install: done: no changes" not in again
    assert "# a stale line" not in acl.read_text()


def test_files_modes_and_owners(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--booth-id", "b1")
    etc = root / "etc" / "booth"
    for secret in ("secrets.env", "admin.env", "cloud.env", "kiosk.env", "worker.env", "share.env"):
        assert mode(etc / secret) == 0o600, secret
        if os.geteuid() == 0:
            assert (etc / secret).stat().st_uid == 0
    assert mode(etc) == 0o750
    assert mode(etc / "booth.toml") == 0o640
    assert mode(root / "var/lib/booth") == 0o750
    for f in ("booth.passwd", "booth.acl"):
        path = root / "etc/mosquitto" / f
        assert mode(path) == 0o640
        if os.geteuid() == 0 and _group_exists("mosquitto"):
            assert path.stat().st_gid == grp.getgrnam("mosquitto").gr_gid, f
    for unit in ("booth-kiosk", "booth-worker", "booth-share"):
        installed = root / f"etc/systemd/system/{unit}.service"
        assert installed.read_bytes() == (REPO / f"systemd/{unit}.service").read_bytes()
        assert mode(installed) == 0o644
    secrets = env_file(etc / "secrets.env")
    assert secrets["GEMINI_API_KEY"] == "" and "BOOTH_ADMIN_PASSWORD" not in secrets
    assert env_file(etc / "admin.env") == {"BOOTH_ADMIN_PASSWORD": "", "BOOTH_METRICS_TOKEN": ""}
    assert env_file(etc / "cloud.env") == {
        "BOOTH_CLOUD_ACCESS_KEY_ID": "",
        "BOOTH_CLOUD_SECRET_ACCESS_KEY": "",
    }


def test_an_old_secrets_file_gives_its_operator_password_to_admin_env(tmp_path):
    """Installs from before admin.env kept the operator password where every unit read it."""
    root = tmp_path / "root"
    etc = root / "etc" / "booth"
    etc.mkdir(parents=True)
    (etc / "secrets.env").write_text("GEMINI_API_KEY=k1\nBOOTH_ADMIN_PASSWORD=op-pass\n")
    out = run_install(root, "--booth-id", "b1").stdout
    assert "moved BOOTH_ADMIN_PASSWORD from secrets.env to admin.env" in out
    assert env_file(etc / "secrets.env") == {"GEMINI_API_KEY": "k1"}
    assert env_file(etc / "admin.env") == {"BOOTH_ADMIN_PASSWORD": "op-pass"}
    assert mode(etc / "admin.env") == 0o600
    assert "install: done: no changes" in run_install(root, "--booth-id", "b1").stdout


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def test_dry_mode_logs_system_actions_instead_of_running_them(tmp_path):
    out = run_install(tmp_path / "root", "--booth-id", "b1").stdout
    assert "dry: would run: useradd --system --user-group" in out
    assert (
        "dry: would run: systemctl enable --quiet mosquitto booth-worker booth-share "
        "booth-kiosk" in out
    )
    assert "dry: would build /opt/booth/venv (--system-site-packages)" in out
    assert not (tmp_path / "root" / "opt").exists()


def test_config_written_once_loads_and_is_never_overwritten(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--booth-id", "b1")
    toml = root / "etc/booth/booth.toml"
    cfg = load_config(toml, env={})
    assert cfg.booth_id == "b1"
    toml.write_text(toml.read_text().replace('title = "Drip Me Out"', 'title = "Gala 2026"'))
    secrets = root / "etc/booth/secrets.env"
    secrets.write_text("GEMINI_API_KEY=abc123\n")
    secrets.chmod(0o644)  # a technician's mistake: the rerun fixes the mode, keeps the content
    kiosk_env = (root / "etc/booth/kiosk.env").read_text()
    out = run_install(root, "--booth-id", "other").stdout
    assert "--booth-id other ignored" in out
    assert load_config(toml, env={}).kiosk.title == "Gala 2026"
    assert secrets.read_text() == "GEMINI_API_KEY=abc123\n"
    assert mode(secrets) == 0o600
    assert "changed: mode 0600 /etc/booth/secrets.env" in out
    assert (root / "etc/booth/kiosk.env").read_text() == kiosk_env  # passwords kept
    assert "topic readwrite booth/b1/#" in (root / "etc/mosquitto/booth.acl").read_text()


def test_example_config_has_every_key(tmp_path):
    """booth.example.toml documents every key: uncommented keys plus the env-only secrets."""
    import tomllib

    from booth.config import describe

    example = REPO / "deploy" / "booth.example.toml"
    data = tomllib.loads(example.read_text())
    cfg = load_config(example, env={})
    listed = set()
    for key, value in data.items():
        if isinstance(value, dict) and key != "styles":
            listed |= {f"{key}.{sub}" for sub in value}
        elif key != "styles":
            listed.add(key)
    text = example.read_text()
    missing = [
        k
        for k, _, _ in describe(cfg)
        if not k.startswith("styles.")
        and k not in listed
        and f"# {k.split('.')[-1]} = " not in text
    ]
    assert not missing, f"keys missing from deploy/booth.example.toml: {missing}"


def test_distinct_passwords_and_lan_listener(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--booth-id", "b1", "--lan", "--lan-port", "18884", "--mqtt-port", "18883")
    kiosk = env_file(root / "etc/booth/kiosk.env")["BOOTH_MQTT_URL"]
    worker = env_file(root / "etc/booth/worker.env")["BOOTH_MQTT_URL"]
    assert kiosk.startswith("mqtt://kiosk:") and kiosk.endswith("@127.0.0.1:18883")
    assert worker.startswith("mqtt://worker:")
    assert kiosk.split(":")[2].split("@")[0] != worker.split(":")[2].split("@")[0]
    conf = (root / "etc/mosquitto/conf.d/booth.conf").read_text()
    assert "listener 18883 127.0.0.1" in conf and "\nlistener 18884\n" in conf
    assert "allow_anonymous false" in conf
    # The password file holds hashes, never the passwords themselves.
    passwd = (root / "etc/mosquitto/booth.passwd").read_text()
    assert kiosk.split(":")[2].split("@")[0] not in passwd
    roles = {"kiosk", "worker", "share", "printer"}
    assert {line.split(":")[0] for line in passwd.splitlines()} == roles


@pytest.mark.parametrize(
    "args, message",
    [
        (["--booth-id", "bad/id"], "bad --booth-id"),
        (["--mqtt-port", "99999"], "bad port"),
        (["--frobnicate"], "unknown option --frobnicate"),
        (["--booth-id", "workers"], "'workers' is reserved"),
    ],
)
def test_bad_options_are_refused_with_a_message(tmp_path, args, message):
    out = run_install(tmp_path / "root", *args, check=False)
    assert out.returncode == 2
    assert message in out.stderr
    assert not (tmp_path / "root" / "etc").exists()


def test_shellcheck_clean():
    """Every shell script of the project passes shellcheck (the Debian package)."""
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (deploy/setup-dev.sh --test installs it)")
    root = INSTALL.parent.parent
    scripts = sorted({str(p) for p in root.glob("deploy/*.sh")} | {str(root / ".ci" / "run")})
    assert str(INSTALL) in scripts
    out = subprocess.run(
        ["shellcheck", "--severity=style", *scripts], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.network  # pip fetches the build backend (setuptools) from the index
@pytest.mark.xdist_group("cpu1")  # a venv and a pip build: CPU-bound (tests/conftest.py)
def test_venv_with_system_site_packages_and_the_project(tmp_path):
    """--venv builds /opt/booth/venv in the throwaway root (system site packages visible, so
    picamera2 from Raspberry Pi OS would be) and installs the project; a rerun skips it.
    Dependencies are left out (--no-deps) to keep the test quick; pip still builds the project."""
    root = tmp_path / "root"
    # A frozen copy of the checkout: other work in the tree must not change the source between
    # the two runs (a changed source is rightly reinstalled).
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("deploy", "systemd", "booth", "jobstore", "kiosk", "share", "worker", "appliance"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    install = src / "deploy" / "install.sh"
    env = {**os.environ, "BOOTH_PIP_ARGS": "--no-deps"}
    first = subprocess.run(
        ["bash", str(install), "--root", str(root), "--venv", "--booth-id", "b1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    venv = root / "opt/booth/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    out = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import appliance.cli, site, sys; print(appliance.cli.__file__); "
            "print(any(p.startswith(sys.base_prefix) and "
            "p.endswith(('site-packages', 'dist-packages')) for p in sys.path))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    installed, flags = out.stdout.splitlines()
    assert installed.startswith(str(venv)), installed  # a real install, not the checkout
    assert flags == "True"  # the interpreter's own site-packages are on the venv's path
    assert (venv / "bin/booth").exists()
    again = subprocess.run(
        ["bash", str(install), "--root", str(root), "--venv", "--booth-id", "b1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert "install: done: no changes" in again.stdout, again.stdout
    (src / "appliance" / "cli.py").write_text(
        (src / "appliance" / "cli.py").read_text() + "\n# new\n"
    )
    third = subprocess.run(
        ["bash", str(install), "--root", str(root), "--venv", "--booth-id", "b1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert "changed: installed the project into /opt/booth/venv" in third.stdout, third.stdout
    assert any(
        p.read_text().endswith("# new\n")
        for p in venv.glob("lib/python3*/site-packages/appliance/cli.py")
    )


def test_desktop_image_boots_to_the_console_unless_kept(tmp_path):
    """A desktop image (display-manager enabled, graphical default target, as systemd records
    them under /etc/systemd/system): the boot target becomes the console; --keep-desktop warns."""
    root = tmp_path / "root"
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "display-manager.service").symlink_to("/lib/systemd/system/lightdm.service")
    (units / "default.target").symlink_to("/lib/systemd/system/graphical.target")
    out = run_install(root, "--booth-id", "b1").stdout
    assert "dry: would run: systemctl set-default multi-user.target" in out
    assert "the desktop no longer starts at boot" in out and "--keep-desktop" in out
    kept = run_install(root, "--booth-id", "b1", "--keep-desktop").stdout
    assert "would run: systemctl set-default" not in kept
    assert "--keep-desktop: the desktop keeps the screen" in kept
    (units / "default.target").unlink()
    (units / "default.target").symlink_to("/lib/systemd/system/multi-user.target")
    again = run_install(root, "--booth-id", "b1").stdout
    assert "would run: systemctl set-default" not in again  # already the console
    lite = run_install(tmp_path / "lite", "--booth-id", "b1").stdout
    assert "would run: systemctl set-default" not in lite  # no desktop at all


def test_run_from_tty1_does_not_start_the_kiosk_now(tmp_path):
    """The kiosk takes tty1 (Conflicts=getty@tty1): started from a tty1 login it would end the
    session running the install."""
    env = {**os.environ, "BOOTH_INSTALL_TTY": "/dev/tty1"}
    out = subprocess.run(
        ["bash", str(INSTALL), "--root", str(tmp_path / "root"), "--booth-id", "b1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "run from tty1, which the kiosk takes over: not starting booth-kiosk now" in out.stdout
    assert "dry: would run: systemctl restart booth-worker booth-share\n" in out.stdout
    assert (
        "dry: would run: systemctl enable --quiet mosquitto booth-worker booth-share "
        "booth-kiosk" in out.stdout
    )  # it still starts at the next boot
    ssh = run_install(tmp_path / "root2", "--booth-id", "b1").stdout
    assert "dry: would run: systemctl restart booth-worker booth-share booth-kiosk" in ssh


def test_a_bare_system_gets_mesa_for_kmsdrm(tmp_path):
    """Raspberry Pi OS Lite has no Mesa: SDL's KMSDRM needs its GBM/EGL drivers."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")  # nothing is installed
    (stubs / "dpkg-query").chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", str(INSTALL), "--root", str(tmp_path / "root"), "--booth-id", "b1", "--pi"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    wanted = next(ln for ln in out.stdout.splitlines() if "Debian packages to install" in ln)
    for pkg in ("libgbm1", "libegl1", "libgl1-mesa-dri", "libegl-mesa0", "python3-picamera2"):
        assert pkg in wanted.split(), wanted
