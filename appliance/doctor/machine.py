"""Checks of this machine's own parts: camera, display, disk, ledger and clock."""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config

# Free space limits for data_dir: a shot and its result take a few MB.
DISK_FAIL_BYTES = 500 * 1024 * 1024
DISK_WARN_BYTES = 2 * 1024 * 1024 * 1024


# ------------------------------------------------------------------------------- camera
def _camera_facts(probe: Probe) -> tuple[bool, list[str]]:
    has_picamera2 = importlib.util.find_spec("picamera2") is not None
    return has_picamera2, sorted(glob.glob(str(probe.dev / "video*")))


def _kiosk_camera(cfg: Config) -> Check | None:
    """Ask the running kiosk: a camera opens for one process only, so while the kiosk runs the
    doctor cannot open it — the kiosk's health file (kiosk/camera/statefile.py) says how it is."""
    from kiosk.camera.statefile import health_path, read_health

    health = read_health(health_path(cfg.data_dir))
    if health is None or not health.alive():
        return None
    if health.state == "live":
        return Check(
            "camera",
            OK,
            f"the running kiosk (pid {health.pid}) has the {health.backend} camera live",
        )
    fault = health.fault or "no frames"
    fix = _CAMERA_FIX
    if "numpy.dtype size changed" in fault:
        fix = (
            "the venv's numpy does not match the OS picamera2: re-run deploy/install.sh "
            "(it pins the OS numpy), then sudo systemctl restart booth-kiosk"
        )
    elif "cannot be imported" in fault:
        fix = (
            "apt install python3-picamera2 and build the venv with --system-site-packages "
            "(deploy/install.sh does both)"
        )
    return Check(
        "camera",
        FAIL,
        f"the running kiosk (pid {health.pid}) has no camera "
        f"({health.state}, {health.restarts} restarts): {fault}",
        fix,
    )


def check_camera(cfg: Config, probe: Probe) -> Check:
    backend = cfg.camera.backend
    if backend == "file":
        folder = cfg.camera.folder
        if folder and not Path(folder).is_dir():
            return Check(
                "camera",
                FAIL,
                f"file camera folder {folder} does not exist",
                "set camera.folder to a folder of JPEG/PNG photos, or leave it empty "
                "for the bundled samples",
            )
        return Check(
            "camera",
            WARN,
            f"camera.backend = file ({folder or 'bundled samples'}): "
            "guests see sample photos, not themselves",
            'set camera.backend = "auto" once a camera is connected',
        )
    # "auto" means a real camera: picamera2, then an OpenCV webcam (never the file camera).
    candidates = ("picamera2", "opencv") if backend == "auto" else (backend,)
    has_picamera2, videos = _camera_facts(probe)
    if probe.use_kiosk_probe:
        asked = _kiosk_camera(cfg)
        if asked is not None:
            return asked
        from kiosk.camera.pick import doctor_probe as kiosk_probe

        for name in candidates:
            trial = dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, backend=name))
            try:
                found = kiosk_probe(trial)
            except Exception as exc:  # a crashing probe is a finding, not a doctor crash
                return Check("camera", FAIL, f"the {name} camera probe crashed: {exc}", _CAMERA_FIX)
            if found:
                return Check("camera", OK, str(found))
    else:
        if "picamera2" in candidates and has_picamera2:
            return Check("camera", OK, "picamera2 is importable (Pi camera backend)")
        if "opencv" in candidates and videos:
            return Check(
                "camera", OK, f"video device(s) {', '.join(videos)} for the OpenCV backend"
            )
    active = probe.run(["systemctl", "is-active", "booth-kiosk.service"])
    if active is not None and active.strip() == "active":
        # A camera opens for one process only: the running kiosk holds it.
        return Check(
            "camera",
            WARN,
            "no camera could be opened, but booth-kiosk is running and holds it",
            "check the kiosk's camera in `journalctl -u booth-kiosk`, or "
            "`sudo systemctl stop booth-kiosk` and run doctor again",
        )
    if backend == "picamera2":
        if not has_picamera2:
            return Check(
                "camera",
                FAIL,
                "camera.backend = picamera2 but picamera2 cannot be imported",
                "on Raspberry Pi OS: apt install python3-picamera2 and "
                "build the venv with --system-site-packages (deploy/install.sh does both)",
            )
        return Check("camera", FAIL, "picamera2 is installed but no Pi camera opens", _CAMERA_FIX)
    if backend == "opencv":
        return Check(
            "camera",
            FAIL,
            f"camera.backend = opencv but no webcam opens at index "
            f"{cfg.camera.index} ({len(videos)} {probe.dev}/video* device(s))",
            "plug in a USB webcam (check `dmesg`) or fix camera.index",
        )
    why = (
        "picamera2 "
        + ("installed but no Pi camera opens" if has_picamera2 else "not importable")
        + (f", no webcam opens ({', '.join(videos)})" if videos else f", no {probe.dev}/video*")
    )
    return Check("camera", FAIL, f"no camera: {why}", _CAMERA_FIX)


_CAMERA_FIX = (
    "connect the Pi camera ribbon (check `rpicam-hello --list-cameras`) or a USB "
    "webcam; "
    'for a demo set camera.backend = "file"'
)


# ------------------------------------------------------------------------------- display
def check_display(cfg: Config, probe: Probe) -> Check:
    env = probe.env
    driver = env.get("SDL_VIDEODRIVER", "")
    drm = sorted(glob.glob(str(probe.dev / "dri" / "card*")))
    if driver in ("dummy", "offscreen"):
        return Check(
            "display",
            WARN,
            f"SDL_VIDEODRIVER={driver}: the kiosk draws off-screen",
            "unset SDL_VIDEODRIVER (or set kmsdrm) to show the booth on a screen",
        )
    if driver == "kmsdrm" or (
        not driver and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY")
    ):
        if drm:
            return Check("display", OK, f"KMSDRM on {', '.join(drm)}")
        return Check(
            "display",
            FAIL,
            f"no display: no DRM device ({probe.dev}/dri/card*) and no DISPLAY",
            "connect the screen and enable its KMS driver (dtoverlay=vc4-kms-v3d in "
            "/boot/firmware/config.txt), or run the kiosk in a desktop session",
        )
    if driver in ("x11", "") and env.get("DISPLAY"):
        return Check("display", OK, f"X11 display {env['DISPLAY']}")
    if driver in ("wayland", "") and env.get("WAYLAND_DISPLAY"):
        return Check("display", OK, f"Wayland display {env['WAYLAND_DISPLAY']}")
    return Check(
        "display",
        FAIL,
        f"SDL_VIDEODRIVER={driver} but its display is not available",
        "unset SDL_VIDEODRIVER, or set DISPLAY / WAYLAND_DISPLAY for it",
    )


# ------------------------------------------------------------------------------- disk
def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(cfg: Config, probe: Probe) -> Check:
    data = Path(cfg.data_dir)
    where = _existing_parent(data)
    free = shutil.disk_usage(where).free
    gib = free / 1024**3
    shown = f"{gib:.1f} GiB free for {data}"
    if not data.exists():
        shown += f" (not created yet; measured on {where})"
    elif not os.access(data, os.W_OK):
        return Check(
            "disk",
            FAIL,
            f"{data} is not writable by this user",
            "chown the data dir to the booth user (deploy/install.sh does it)",
        )
    if free < DISK_FAIL_BYTES:
        return Check(
            "disk",
            FAIL,
            shown,
            "free space: lower retention_days or delete old photos "
            "in data_dir; use a larger SD card",
        )
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, shown, "less than 2 GiB left: lower retention_days")
    return Check("disk", OK, shown)


# ------------------------------------------------------------------------------- ledger
def check_ledger(cfg: Config, probe: Probe) -> Check:
    """A damaged ledger, or one that was rebuilt (jobstore/recovery.py), is named here."""
    from jobstore.ledger import ledger_path
    from jobstore.recovery import RECORD_FILE, recoveries
    from jobstore.recovery import check_ledger as ledger_problem

    path = ledger_path(cfg.data_dir)
    try:
        problem = ledger_problem(path)
    except (OSError, sqlite3.Error) as exc:  # not damage: access, a busy or failing disk
        return Check(
            "ledger",
            FAIL,
            f"cannot check the ledger {path}: {exc}",
            "run doctor as root or the booth user; if the disk fails, `dmesg` says so",
        )
    if problem is not None:
        return Check(
            "ledger",
            FAIL,
            f"the ledger {path} is damaged: {problem}",
            "restart the kiosk and the share server (systemctl restart booth-kiosk "
            "booth-share, or booth up): the first to start keeps the damaged file "
            "aside and rebuilds the ledger from the photos and the broker",
        )
    done = recoveries(cfg.data_dir)
    if done:
        r = done[-1]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.at))
        kept = Path(cfg.data_dir) / r.moved_to
        return Check(
            "ledger",
            WARN,
            f"the ledger was damaged ({r.problem}) and rebuilt on {when}: {r.jobs} "
            f"jobs from the photo store ({r.with_status} with their status from the "
            f"broker: {r.broker}), {r.links_kept} guest links kept, {r.links_new} new, "
            f"{r.sessions} strip sessions grouped again; the damaged file is kept as {kept}",
            f"guests' links work again; check the SD card (dmesg), keep {kept.name} "
            f"for a bug report or delete it, then delete {RECORD_FILE} to clear this",
        )
    if not path.exists():
        return Check("ledger", OK, f"no ledger yet at {path} (made at the first start)")
    return Check("ledger", OK, f"{path} passes its integrity check")


# ------------------------------------------------------------------------------- clock
_CLOCK_FIX = (
    "give the booth network time once (Wi-Fi or Ethernet with internet access; "
    "`sudo timedatectl set-ntp true`), or set it by hand: sudo date -s 'YYYY-MM-DD "
    "HH:MM'. A Pi 4 has no battery-backed clock; on a Pi 5 fit the RTC battery"
)


def check_clock(cfg: Config, probe: Probe) -> Check:
    now = probe.now()
    synced = probe.synchronized()
    installed = probe.install_time()
    shown = f"{now:%Y-%m-%d %H:%M} UTC"
    if now.year < 2024:
        return Check(
            "clock", FAIL, f"the clock says {now:%Y-%m-%d}: TLS and timestamps break", _CLOCK_FIX
        )
    if not synced and installed is not None and now.timestamp() < installed - 3600:
        when = datetime.fromtimestamp(installed, UTC)
        return Check(
            "clock",
            FAIL,
            f"the clock says {shown}, before this booth was installed "
            f"({when:%Y-%m-%d %H:%M} UTC), and no network time set it: TLS to Gemini "
            "fails (certificate not yet valid) and photo times are wrong",
            _CLOCK_FIX,
        )
    if synced is None:
        return Check("clock", OK, f"{shown} (NTP state unknown)")
    if not synced:
        if cfg.trust_clock:
            return Check("clock", OK, f"{shown}, not NTP synchronised; trusted (trust_clock)")
        return Check(
            "clock",
            WARN,
            f"{shown}, not NTP synchronised: retention deletes nothing until it is",
            _CLOCK_FIX + " (or set trust_clock = true for a battery-backed RTC)",
        )
    return Check("clock", OK, f"{shown}, NTP synchronised")
