"""`booth doctor`: check this machine the way the booth will use it and say what to fix.

An event technician runs it after install and before doors open. Every check returns one
:class:`Check` (ok / warn / fail, what was found, how to fix it); any fail makes the exit code 1.
Checks are plain functions of the config and a :class:`Probe` (environment, device paths,
commands) so tests can point them at a fake /dev or environment without touching the real one.
`--print-config` prints the effective configuration with secrets masked instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import importlib.util
import ipaddress
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from booth.clock import ntp_synchronized
from booth.config import Config, ConfigError, describe, load_config

OK, WARN, FAIL = "ok", "warn", "fail"

# Free space limits for data_dir: a shot and its result take a few MB.
DISK_FAIL_BYTES = 500 * 1024 * 1024
DISK_WARN_BYTES = 2 * 1024 * 1024 * 1024


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
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    run: Callable[[list[str]], str | None] = None  # type: ignore[assignment]
    broker_timeout_s: float = 5.0
    use_kiosk_probe: bool = True  # open the cameras with the kiosk's own backends
    api_timeout_s: float = 15.0
    nm_run_dir: Path = Path("/run")  # NetworkManager's pid file of the hotspot's dnsmasq
    nm_state_dir: Path = Path("/var/lib/NetworkManager")  # and its DHCP lease file
    hotspot_timeout_s: float = 3.0
    synchronized: Callable[[], bool | None] = ntp_synchronized  # has NTP set the clock?
    install_time: Callable[[], float | None] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = _run_quiet
        if self.install_time is None:
            self.install_time = _install_time


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


# ------------------------------------------------------------------------------- camera
def _camera_facts(probe: Probe) -> tuple[bool, list[str]]:
    has_picamera2 = importlib.util.find_spec("picamera2") is not None
    return has_picamera2, sorted(glob.glob(str(probe.dev / "video*")))


def _kiosk_camera(cfg: Config) -> Check | None:
    """Ask the running kiosk: a camera opens for one process only, so while the kiosk runs the
    doctor cannot open it — the kiosk's health file (kiosk/camera/health.py) says how it is."""
    from kiosk.camera.health import health_path, read_health

    health = read_health(health_path(cfg.data_dir))
    if health is None or not health.alive():
        return None
    if health.state == "live":
        return Check("camera", OK, f"the running kiosk (pid {health.pid}) has the "
                     f"{health.backend} camera live")
    fault = health.fault or "no frames"
    fix = _CAMERA_FIX
    if "numpy.dtype size changed" in fault:
        fix = ("the venv's numpy does not match the OS picamera2: re-run deploy/install.sh "
               "(it pins the OS numpy), then sudo systemctl restart booth-kiosk")
    elif "cannot be imported" in fault:
        fix = ("apt install python3-picamera2 and build the venv with --system-site-packages "
               "(deploy/install.sh does both)")
    return Check("camera", FAIL, f"the running kiosk (pid {health.pid}) has no camera "
                 f"({health.state}, {health.restarts} restarts): {fault}", fix)


def check_camera(cfg: Config, probe: Probe) -> Check:
    backend = cfg.camera.backend
    if backend == "file":
        folder = cfg.camera.folder
        if folder and not Path(folder).is_dir():
            return Check("camera", FAIL, f"file camera folder {folder} does not exist",
                         "set camera.folder to a folder of JPEG/PNG photos, or leave it empty "
                         "for the bundled samples")
        return Check("camera", WARN, f"camera.backend = file ({folder or 'bundled samples'}): "
                     "guests see sample photos, not themselves",
                     "set camera.backend = \"auto\" once a camera is connected")
    # "auto" means a real camera: picamera2, then an OpenCV webcam (never the file camera).
    candidates = ("picamera2", "opencv") if backend == "auto" else (backend,)
    has_picamera2, videos = _camera_facts(probe)
    if probe.use_kiosk_probe:
        asked = _kiosk_camera(cfg)
        if asked is not None:
            return asked
        from kiosk.camera.probe import doctor_probe as kiosk_probe

        for name in candidates:
            trial = dataclasses.replace(cfg, camera=dataclasses.replace(cfg.camera, backend=name))
            try:
                found = kiosk_probe(trial)
            except Exception as exc:  # a crashing probe is a finding, not a doctor crash
                return Check("camera", FAIL, f"the {name} camera probe crashed: {exc}",
                             _CAMERA_FIX)
            if found:
                return Check("camera", OK, str(found))
    else:
        if "picamera2" in candidates and has_picamera2:
            return Check("camera", OK, "picamera2 is importable (Pi camera backend)")
        if "opencv" in candidates and videos:
            return Check("camera", OK, f"video device(s) {', '.join(videos)} for the OpenCV "
                         "backend")
    active = probe.run(["systemctl", "is-active", "booth-kiosk.service"])
    if active is not None and active.strip() == "active":
        # A camera opens for one process only: the running kiosk holds it.
        return Check("camera", WARN, "no camera could be opened, but booth-kiosk is running and "
                     "holds it", "check the kiosk's camera in `journalctl -u booth-kiosk`, or "
                     "`sudo systemctl stop booth-kiosk` and run doctor again")
    if backend == "picamera2":
        if not has_picamera2:
            return Check("camera", FAIL, "camera.backend = picamera2 but picamera2 cannot be "
                         "imported", "on Raspberry Pi OS: apt install python3-picamera2 and "
                         "build the venv with --system-site-packages (deploy/install.sh does both)")
        return Check("camera", FAIL, "picamera2 is installed but no Pi camera opens",
                     _CAMERA_FIX)
    if backend == "opencv":
        return Check("camera", FAIL, f"camera.backend = opencv but no webcam opens at index "
                     f"{cfg.camera.index} ({len(videos)} {probe.dev}/video* device(s))",
                     "plug in a USB webcam (check `dmesg`) or fix camera.index")
    why = ("picamera2 " + ("installed but no Pi camera opens" if has_picamera2 else
                           "not importable") +
           (f", no webcam opens ({', '.join(videos)})" if videos else f", no {probe.dev}/video*"))
    return Check("camera", FAIL, f"no camera: {why}", _CAMERA_FIX)


_CAMERA_FIX = ("connect the Pi camera ribbon (check `rpicam-hello --list-cameras`) or a USB "
               "webcam; "
               "for a demo set camera.backend = \"file\"")


# ------------------------------------------------------------------------------- display
def check_display(cfg: Config, probe: Probe) -> Check:
    env = probe.env
    driver = env.get("SDL_VIDEODRIVER", "")
    drm = sorted(glob.glob(str(probe.dev / "dri" / "card*")))
    if driver in ("dummy", "offscreen"):
        return Check("display", WARN, f"SDL_VIDEODRIVER={driver}: the kiosk draws off-screen",
                     "unset SDL_VIDEODRIVER (or set kmsdrm) to show the booth on a screen")
    if driver == "kmsdrm" or (not driver and not env.get("DISPLAY")
                              and not env.get("WAYLAND_DISPLAY")):
        if drm:
            return Check("display", OK, f"KMSDRM on {', '.join(drm)}")
        return Check("display", FAIL,
                     f"no display: no DRM device ({probe.dev}/dri/card*) and no DISPLAY",
                     "connect the screen and enable its KMS driver (dtoverlay=vc4-kms-v3d in "
                     "/boot/firmware/config.txt), or run the kiosk in a desktop session")
    if driver in ("x11", "") and env.get("DISPLAY"):
        return Check("display", OK, f"X11 display {env['DISPLAY']}")
    if driver in ("wayland", "") and env.get("WAYLAND_DISPLAY"):
        return Check("display", OK, f"Wayland display {env['WAYLAND_DISPLAY']}")
    return Check("display", FAIL, f"SDL_VIDEODRIVER={driver} but its display is not available",
                 "unset SDL_VIDEODRIVER, or set DISPLAY / WAYLAND_DISPLAY for it")


# ------------------------------------------------------------------------------- broker
def check_broker(cfg: Config, probe: Probe) -> Check:
    from booth.mqtt import BrokerUrl, MqttConnection, MqttUrlError

    try:
        url = BrokerUrl.parse(cfg.mqtt.url)
    except MqttUrlError as exc:
        return Check("broker", FAIL, f"mqtt.url is unusable: {exc}",
                     "set mqtt.url (or BOOTH_MQTT_URL) to mqtt://user:pass@host:1883")
    try:
        with socket.create_connection((url.host, url.port), timeout=probe.broker_timeout_s):
            pass
    except OSError as exc:
        return Check("broker", FAIL, f"cannot reach {url.safe()}: {exc.strerror or exc}",
                     "start the broker (systemctl start mosquitto) or fix the host/port in "
                     "BOOTH_MQTT_URL")
    refused: list[str] = []
    conn = MqttConnection(cfg.mqtt.url, f"doctor-{socket.gethostname()[:20]}-{os.getpid()}",
                          ca_file=cfg.mqtt.ca_file or None, reconnect_min_s=30)
    original = conn.paho.on_connect

    def on_connect(client, userdata, flags, reason, props):  # record a refusal's reason
        if reason.is_failure:
            refused.append(str(reason))
        original(client, userdata, flags, reason, props)

    conn.paho.on_connect = on_connect
    try:
        conn.start()
        deadline = time.monotonic() + probe.broker_timeout_s
        ok = False
        while not refused and time.monotonic() < deadline:  # a refusal ends the wait early
            ok = conn.wait_connected(0.05)
            if ok:
                break
    finally:
        conn.stop(timeout=1.0)
    if ok:
        who = f" as {url.username}" if url.username else " anonymously"
        return Check("broker", OK, f"connected to {url.safe()}{who}")
    if refused:
        return Check("broker", FAIL, f"{url.safe()} refused the connection: {refused[0]}",
                     "check the user and password in BOOTH_MQTT_URL (/etc/booth/kiosk.env or "
                     "worker.env) against the broker's password file; re-run deploy/install.sh")
    return Check("broker", FAIL, f"{url.safe()} accepts TCP but no MQTT session came up",
                 "is it a TLS port (use mqtts://) or not a broker at all?")


# ------------------------------------------------------------------------------- API key
def check_api_key(cfg: Config, probe: Probe, offline: bool = False) -> Check:
    key = cfg.gemini.api_key
    if not key:
        return Check("api key", WARN,
                     "GEMINI_API_KEY is not set: every photo gets the local effect",
                     "put GEMINI_API_KEY=… in /etc/booth/secrets.env, then restart the worker")
    if offline:
        return Check("api key", OK, "GEMINI_API_KEY is set (not tried: --offline)")
    from google import genai
    from google.genai import errors, types

    opts = types.HttpOptions(base_url=cfg.gemini.base_url or None,
                             api_version=cfg.gemini.api_version,
                             timeout=int(probe.api_timeout_s * 1000))
    where = cfg.gemini.base_url or "Google"
    try:
        client = genai.Client(api_key=key, http_options=opts)
        try:
            client.models.get(model=cfg.gemini.model)
        finally:
            client.close()
    except errors.APIError as exc:
        code = getattr(exc, "code", None)
        if getattr(exc, "status", "") == "FAILED_PRECONDITION":  # a region or billing refusal
            return Check("api key", FAIL, f"{where} refuses this machine's requests: "
                         f"{str(getattr(exc, 'message', '') or '')[:160]}",
                         "enable billing for the key's project, or run the worker where the "
                         "Gemini API is available")
        if code in (400, 401, 403):
            return Check("api key", FAIL, f"{where} rejected the API key ({code} "
                         f"{getattr(exc, 'status', '')})",
                         "create a key at https://aistudio.google.com/apikey and put it in "
                         "/etc/booth/secrets.env")
        if code == 404:
            return Check("api key", FAIL, f"the key works but model {cfg.gemini.model!r} was not "
                         "found", "set gemini.model (GEMINI_MODEL) to an image model such as "
                         "gemini-2.5-flash-image")
        if code == 429:
            return Check("api key", WARN, "the key is accepted but rate limited or out of quota "
                         "(429)", "wait, or raise the project's quota; the booth falls back to "
                         "the local effect meanwhile")
        return Check("api key", WARN, f"{where} answered {code}: try again later",
                     "the booth falls back to the local effect while the service is down")
    except Exception as exc:  # timeouts and connection errors come from the transport
        return Check("api key", WARN, f"could not reach {where}: {type(exc).__name__}",
                     "check the internet connection (or GEMINI_BASE_URL); use --offline to skip")
    return Check("api key", OK, f"{where} accepted the key; model {cfg.gemini.model} is available")


# ------------------------------------------------------------------------------- workers
RETAINED_WAIT_S = 0.5  # retained messages follow the subscription at once; a margin for them


def check_workers(cfg: Config, probe: Probe, role: str = "booth") -> Check:
    """Which workers say `online`, and what their retained health says (the AI state, with the
    reason and the fix the worker published: worker/health.py). On a booth no worker online is
    a failure (every photo waits); on a worker machine (`--role worker`) a warning, since its
    own worker may simply not be started yet."""
    from booth.mqtt import BrokerUrl, MqttConnection, MqttUrlError
    from booth.protocol import (Health, ProtocolError, TopicKind, Topics, parse_availability)

    try:
        url = BrokerUrl.parse(cfg.mqtt.url)
    except MqttUrlError:
        return Check("workers", WARN, "not checked: mqtt.url is unusable", "see the broker check")
    try:
        socket.create_connection((url.host, url.port), timeout=probe.broker_timeout_s).close()
    except OSError:
        return Check("workers", WARN, "not checked: the broker cannot be reached",
                     "see the broker check")
    topics = Topics(cfg.mqtt.root)
    online: dict[str, bool] = {}
    health: dict[str, Health] = {}

    def on_message(msg) -> None:
        try:
            parsed = topics.parse(msg.topic)
            if parsed.kind is TopicKind.WORKER_AVAILABILITY and msg.payload:
                online[parsed.worker] = parse_availability(msg.payload)
            elif parsed.kind is TopicKind.WORKER_HEALTH and msg.payload:
                health[parsed.worker] = Health.from_json(msg.payload)
        except ProtocolError:
            pass  # a malformed message says nothing about a worker

    conn = MqttConnection(cfg.mqtt.url, f"doctor-w-{socket.gethostname()[:20]}-{os.getpid()}",
                          subscriptions=[(topics.all_worker_availability(), 1),
                                         (topics.all_worker_health(), 1)],
                          on_message=on_message, ca_file=cfg.mqtt.ca_file or None,
                          reconnect_min_s=30)
    try:
        conn.start()
        connected = conn.wait_connected(probe.broker_timeout_s)
        if connected:
            time.sleep(RETAINED_WAIT_S)
    finally:
        conn.stop(timeout=1.0)
    if not connected:
        return Check("workers", WARN, "not checked: no MQTT session", "see the broker check")
    up = sorted(w for w, on in online.items() if on)
    if not up:
        known = f" ({len(online)} known, all offline)" if online else ""
        return Check("workers", FAIL if role == "booth" else WARN,
                     f"no worker is online{known}: photos are paused until one is",
                     "start one (systemctl start booth-worker, or `booth worker` on any machine "
                     "that reaches the broker)")
    said = [(w, health[w]) for w in up if w in health]
    for level, state in ((FAIL, "error"), (WARN, "warn")):
        bad = [(w, h) for w, h in said if h.state == state]
        if bad:
            w, h = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            return Check("workers", level, f"worker {w}: AI {h.ai}: {h.reason}{more}", h.fix)
    states = ", ".join(f"{w} (AI {health[w].ai})" if w in health else w for w in up)
    return Check("workers", OK, f"{len(up)} online: {states}")


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
    gib = free / 1024 ** 3
    shown = f"{gib:.1f} GiB free for {data}"
    if not data.exists():
        shown += f" (not created yet; measured on {where})"
    elif not os.access(data, os.W_OK):
        return Check("disk", FAIL, f"{data} is not writable by this user",
                     "chown the data dir to the booth user (deploy/install.sh does it)")
    if free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, shown, "free space: lower retention_days or delete old photos "
                     "in data_dir; use a larger SD card")
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, shown, "less than 2 GiB left: lower retention_days")
    return Check("disk", OK, shown)


# ------------------------------------------------------------------------------- ledger
def check_ledger(cfg: Config, probe: Probe) -> Check:
    """A damaged ledger, or one that was rebuilt (jobstore/recovery.py), is named here."""
    from jobstore.ledger import ledger_path
    from jobstore.recovery import RECORD_FILE, check_ledger as ledger_problem, recoveries

    path = ledger_path(cfg.data_dir)
    try:
        problem = ledger_problem(path)
    except (OSError, sqlite3.Error) as exc:  # not damage: access, a busy or failing disk
        return Check("ledger", FAIL, f"cannot check the ledger {path}: {exc}",
                     "run doctor as root or the booth user; if the disk fails, `dmesg` says so")
    if problem is not None:
        return Check("ledger", FAIL, f"the ledger {path} is damaged: {problem}",
                     "restart the kiosk and the share server (systemctl restart booth-kiosk "
                     "booth-share, or booth up): the first to start keeps the damaged file "
                     "aside and rebuilds the ledger from the photos and the broker")
    done = recoveries(cfg.data_dir)
    if done:
        r = done[-1]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.at))
        kept = Path(cfg.data_dir) / r.moved_to
        return Check("ledger", WARN,
                     f"the ledger was damaged ({r.problem}) and rebuilt on {when}: {r.jobs} "
                     f"jobs from the photo store ({r.with_status} with their status from the "
                     f"broker: {r.broker}), {r.links_kept} guest links kept, {r.links_new} new; "
                     f"the damaged file is kept as {kept}",
                     f"guests' links work again; check the SD card (dmesg), keep {kept.name} "
                     f"for a bug report or delete it, then delete {RECORD_FILE} to clear this")
    if not path.exists():
        return Check("ledger", OK, f"no ledger yet at {path} (made at the first start)")
    return Check("ledger", OK, f"{path} passes its integrity check")


# ------------------------------------------------------------------------------- clock
_CLOCK_FIX = ("give the booth network time once (Wi-Fi or Ethernet with internet access; "
              "`sudo timedatectl set-ntp true`), or set it by hand: sudo date -s 'YYYY-MM-DD "
              "HH:MM'. A Pi 4 has no battery-backed clock; on a Pi 5 fit the RTC battery")


def check_clock(cfg: Config, probe: Probe) -> Check:
    now = probe.now()
    synced = probe.synchronized()
    installed = probe.install_time()
    shown = f"{now:%Y-%m-%d %H:%M} UTC"
    if now.year < 2024:
        return Check("clock", FAIL, f"the clock says {now:%Y-%m-%d}: TLS and timestamps break",
                     _CLOCK_FIX)
    if not synced and installed is not None and now.timestamp() < installed - 3600:
        when = datetime.fromtimestamp(installed, timezone.utc)
        return Check("clock", FAIL, f"the clock says {shown}, before this booth was installed "
                     f"({when:%Y-%m-%d %H:%M} UTC), and no network time set it: TLS to Gemini "
                     "fails (certificate not yet valid) and photo times are wrong", _CLOCK_FIX)
    if synced is None:
        return Check("clock", OK, f"{shown} (NTP state unknown)")
    if not synced:
        if cfg.trust_clock:
            return Check("clock", OK, f"{shown}, not NTP synchronised; trusted (trust_clock)")
        return Check("clock", WARN, f"{shown}, not NTP synchronised: retention deletes nothing "
                     "until it is", _CLOCK_FIX + " (or set trust_clock = true for a battery-"
                     "backed RTC)")
    return Check("clock", OK, f"{shown}, NTP synchronised")


# ------------------------------------------------------------------------------- share URL
def address_is_local(ip: str) -> bool:
    """True when this machine owns `ip`: binding to a foreign address fails (EADDRNOTAVAIL)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def check_share_url(cfg: Config, probe: Probe) -> Check:
    from jobstore.links import public_base_url

    base = public_base_url(cfg)
    host = urlsplit(base).hostname or ""
    if not host:
        return Check("share url", FAIL, f"share.public_url {base!r} has no host",
                     "set share.public_url to http://<booth address>:8080")
    try:
        addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})
    except OSError:
        return Check("share url", WARN, f"{base}: {host} does not resolve here",
                     "phones must resolve it: use the booth's IP address or a name the Wi-Fi's "
                     "DNS knows")
    if any(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        return Check("share url", FAIL, f"{base} is a loopback address: phones cannot reach it",
                     "connect the booth to the guests' Wi-Fi, or set share.public_url")
    listen = cfg.share.host
    if listen not in ("", "0.0.0.0", "::") and listen not in addrs:
        return Check("share url", FAIL, f"the QR points at {base} but the share server listens "
                     f"on {listen} only", "set share.host = \"0.0.0.0\" (all addresses) or to "
                     "the address in share.public_url")
    local = [a for a in addrs if address_is_local(a.split("%")[0])]
    if not local:
        return Check("share url", FAIL, f"{base}: {', '.join(addrs)} is not an address of this "
                     "machine", "set share.public_url to this machine's LAN address (`hostname "
                     "-I`), or leave it empty to use it automatically")
    return Check("share url", OK, f"{base} ({', '.join(local)} is on this machine)")


# ------------------------------------------------------------------------------- share server
def check_share_server(cfg: Config, probe: Probe) -> Check:
    """Something answers on share.port, and it is this booth's share server (its /healthz names
    the booth and, to a client on this machine, the data dir)."""
    import json
    import urllib.error
    import urllib.request

    host = cfg.share.host if cfg.share.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{cfg.share.port}/healthz"
    fix = ("start it: sudo systemctl start booth-share (or `booth up`); `journalctl -u "
           "booth-share -b` says why it stopped")
    try:
        with urllib.request.urlopen(url, timeout=probe.broker_timeout_s) as r:
            status, body = r.status, r.read(4096)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(4096)
    except OSError as exc:
        why = getattr(exc, "reason", None) or exc
        why = getattr(why, "strerror", None) or why
        return Check("share server", FAIL, f"nothing answers on {host}:{cfg.share.port} "
                     f"({why}): the guests' QR links lead nowhere", fix)
    try:
        said = json.loads(body or b"{}")
    except ValueError:
        said = None
    if not isinstance(said, dict) or "booth_id" not in said:
        return Check("share server", FAIL, f"{host}:{cfg.share.port} answers, but it is not a "
                     f"booth's share server (HTTP {status})", "free share.port for booth-share, "
                     "or give it another port (share.port)")
    if said["booth_id"] != cfg.booth_id or (
            said.get("data_dir") and
            Path(str(said["data_dir"])).resolve() != Path(cfg.data_dir).resolve()):
        return Check("share server", FAIL, f"the share server on port {cfg.share.port} serves "
                     f"booth {said['booth_id']!r} from {said.get('data_dir', '?')}, not this "
                     "booth: its links would not open this booth's photos",
                     "stop that server, or give this booth its own share.port")
    if not said.get("ok"):
        return Check("share server", FAIL, f"the share server on port {cfg.share.port} cannot "
                     f"read its ledger ({said.get('ledger', 'HTTP ' + str(status))})",
                     "sudo systemctl restart booth-share (a damaged ledger is rebuilt)")
    return Check("share server", OK, f"this booth's share server answers on "
                 f"{host}:{cfg.share.port}")


# ------------------------------------------------------------------------------- hotspot
HOTSPOT_ID = "booth-hotspot"  # the profile deploy/hotspot.sh writes
_HOTSPOT_FIX_UP = ("sudo nmcli connection up booth-hotspot; if that fails, `journalctl -u "
                   "NetworkManager -b` (Wi-Fi country not set? sudo raspi-config nonint "
                   "do_wifi_country XX; blocked? sudo rfkill unblock wifi)")


def _nmcli_fields(text: str) -> dict[str, str]:
    """`nmcli -t -f A,B connection show ID` lines (`IP4.ADDRESS[1]:10.42.0.1/24`) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.split("[")[0], value.replace("\\:", ":"))
    return out


def dns_query_a(server: str, name: str, timeout_s: float) -> list[str]:
    """The A records `server` answers for `name` (one UDP query; no resolver library needed)."""
    import random
    import struct

    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(packet, (server, 53))
        data, _ = s.recvfrom(4096)
    rid, _flags, qd, an = struct.unpack("!HHHH", data[:8])
    if rid != qid:
        raise OSError("DNS answer with a wrong id")
    pos = 12
    for _ in range(qd):  # skip the echoed question
        while data[pos] != 0:
            pos += data[pos] + 1
        pos += 5
    found = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:  # compressed name
            pos += 2
        else:
            while data[pos] != 0:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += length
    return found


def _http_get(address: str, host: str, path: str, timeout_s: float) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection(address, 80, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read(4096)
    finally:
        conn.close()


def check_hotspot(cfg: Config, probe: Probe) -> Check:
    """The booth Wi-Fi of install.sh --hotspot: profile active, address, DHCP, DNS, portal."""
    shown = probe.run(["nmcli", "-t", "-f", "GENERAL.STATE,GENERAL.DEVICES,IP4.ADDRESS",
                       "connection", "show", HOTSPOT_ID])
    if shown is None:
        if not cfg.share.portal:
            return Check("hotspot", OK, "no booth Wi-Fi set up (deploy/install.sh --hotspot "
                         "makes one)")
        return Check("hotspot", FAIL, "share.portal is on but NetworkManager has no "
                     f"{HOTSPOT_ID} profile", "re-run deploy/install.sh --hotspot SSID, or "
                     "remove /etc/booth/hotspot.env (install.sh --no-hotspot)")
    fields = _nmcli_fields(shown)
    device = fields.get("GENERAL.DEVICES", "")
    if fields.get("GENERAL.STATE") != "activated" or not device:
        return Check("hotspot", FAIL, f"profile {HOTSPOT_ID} is not active", _HOTSPOT_FIX_UP)
    address = fields.get("IP4.ADDRESS", "").split("/")[0]
    if not address:
        return Check("hotspot", FAIL, f"{HOTSPOT_ID} is up on {device} without an IPv4 address",
                     "re-run deploy/install.sh --hotspot (it sets ipv4.method=shared and "
                     "address1=10.42.0.1/24)")
    where = f"{HOTSPOT_ID} on {device} at {address}"
    # DHCP: NetworkManager's dnsmasq for this interface (nm-dnsmasq-manager.c's pid file)
    pid_file = probe.nm_run_dir / f"nm-dnsmasq-{device}.pid"
    try:
        pid = int(pid_file.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        comm = ""
    if comm != "dnsmasq":
        return Check("hotspot", FAIL, f"{where}: no DHCP/DNS server (NetworkManager's dnsmasq "
                     f"is not running: {pid_file})", "sudo apt install dnsmasq-base, then "
                     "sudo nmcli connection up booth-hotspot")
    leases_file = probe.nm_state_dir / f"dnsmasq-{device}.leases"
    try:
        leases = sum(1 for line in leases_file.read_text().splitlines() if line.strip())
    except OSError:
        leases = 0
    # DNS: a name nobody owns must be the booth
    import secrets as _secrets

    name = f"doctor-{_secrets.token_hex(4)}.example"
    try:
        answers = dns_query_a(address, name, probe.hotspot_timeout_s)
    except (OSError, IndexError, ValueError) as exc:
        return Check("hotspot", FAIL, f"{where}: DNS does not answer ({exc})",
                     "sudo nmcli connection up booth-hotspot (NetworkManager restarts dnsmasq)")
    if answers != [address]:
        return Check("hotspot", FAIL, f"{where}: DNS answers {name} with "
                     f"{', '.join(answers) or 'nothing'}, not the booth",
                     "re-run deploy/install.sh --hotspot (writes /etc/NetworkManager/"
                     "dnsmasq-shared.d/booth-hotspot.conf), then sudo nmcli connection up "
                     "booth-hotspot")
    # the portal, on port 80 as phones reach it
    try:
        android = _http_get(address, "connectivitycheck.gstatic.com", "/generate_204",
                            probe.hotspot_timeout_s)
        apple = _http_get(address, "captive.apple.com", "/hotspot-detect.html",
                          probe.hotspot_timeout_s)
    except OSError as exc:
        return Check("hotspot", FAIL, f"{where}: port 80 does not reach the share server "
                     f"({exc.strerror or exc})", "sudo nft -f /etc/booth/hotspot.nft (the "
                     "NetworkManager dispatcher loads it when the hotspot comes up); "
                     "is booth-share running? (systemctl status booth-share)")
    if android[0] != 204 or b"Success" not in apple[1]:
        return Check("hotspot", FAIL, f"{where}: the share server answers phones' checks "
                     f"wrongly (Android {android[0]}, Apple {apple[0]}): the portal is off",
                     "restart booth-share (it reads /etc/booth/hotspot.env: BOOTH_PORTAL=1)")
    from jobstore.links import public_base_url

    host = urlsplit(public_base_url(cfg)).hostname
    found = (f"{where}; DHCP up ({leases} lease{'s' if leases != 1 else ''}); DNS answers "
             f"every name with {address}; portal answers on port 80")
    if host != address:
        return Check("hotspot", WARN, f"{found}; but the QR links point at {host}",
                     "add --env-file /etc/booth/hotspot.env to doctor (the kiosk reads it); "
                     "without it, re-run deploy/install.sh --hotspot")
    return Check("hotspot", OK, found)


# ------------------------------------------------------------------------------- cloud (issue 14)
def check_cloud(cfg: Config, probe: Probe) -> Check:
    """The bucket, when [cloud] is on: see share/cloud_check.py."""
    from share.cloud_check import bucket_check

    level, found, fix = bucket_check(cfg, probe.now(), probe.api_timeout_s)
    return Check("cloud", level, found, fix)
# ------------------------------------------------------------------------------- end cloud


# ------------------------------------------------------------------------------- driver
BOOTH_CHECKS = ("camera", "display", "broker", "workers", "api key", "disk", "ledger", "clock",
                "share url", "share server", "hotspot", "cloud")
WORKER_CHECKS = ("broker", "workers", "api key", "disk", "clock")


def run_checks(cfg: Config, probe: Probe | None = None, *, offline: bool = False,
               role: str = "booth") -> list[Check]:
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
    }
    names = BOOTH_CHECKS if role == "booth" else WORKER_CHECKS
    results = []
    for name in names:
        try:
            results.append(funcs[name]())
        except Exception as exc:  # one broken check must not hide the others
            results.append(Check(name, FAIL, f"the check itself failed: {type(exc).__name__}: "
                                 f"{exc}", "report this as a bug"))
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
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration (secrets masked) and exit")
    p.add_argument("--offline", action="store_true",
                   help="do not call the Gemini API (only check that a key is set)")
    p.add_argument("--role", choices=("booth", "worker"), default="booth",
                   help="'worker' skips camera, display, share and cloud checks (a worker-only "
                        "machine)")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE",
                   help="read KEY=value lines like systemd's EnvironmentFile= before checking "
                        "(e.g. /etc/booth/secrets.env and /etc/booth/kiosk.env); repeatable")


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
    checks = run_checks(cfg, probe, offline=getattr(args, "offline", False),
                        role=getattr(args, "role", "booth"))
    print(format_checks(checks))
    sys.stdout.flush()
    return 1 if any(c.level == FAIL for c in checks) else 0
