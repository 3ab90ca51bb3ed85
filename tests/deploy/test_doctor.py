"""`booth doctor`: every check's fail (and ok) outcome, against real parts where they exist here:
a real broker with the generated ACL config, the real google-genai SDK against a local fake
Gemini server, this machine's disk, clock and addresses."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance import doctor
from appliance.doctor import FAIL, OK, WARN, Probe, machine
from booth.config import load_config
from jobstore.links import lan_address
from tests.deploy.deploytools import GeneratedBroker, credentials, run_install
from tests.support.fake_gemini import FakeGemini, Reply
from tests.support.mosquitto import free_port

BOOTH = str(Path(sys.executable).with_name("booth"))


def NO_CMD(argv):
    return None


@pytest.fixture
def cfg_of(tmp_path):
    def make(toml: str = "", **env: str):
        path = tmp_path / "doctor.toml"
        path.write_text(toml)
        base = {"BOOTH_DATA_DIR": str(tmp_path / "data"), "BOOTH_ID": "b1"}
        base.update(env)
        return load_config(path, env=base)

    return make


def fake_dev(tmp_path: Path, *names: str) -> Path:
    dev = tmp_path / "dev"
    dev.mkdir(exist_ok=True)
    for name in names:
        (dev / name).parent.mkdir(parents=True, exist_ok=True)
        (dev / name).write_text("")
    return dev


# ----------------------------------------------------------------------------- camera
def test_camera_fails_without_any_camera(cfg_of, tmp_path):
    c = doctor.check_camera(
        cfg_of(), Probe(dev=fake_dev(tmp_path), use_kiosk_probe=False, run=NO_CMD)
    )
    assert c.level == FAIL and c.found.startswith("no camera:")
    assert 'camera.backend = "file"' in c.fix


def test_camera_named_backends_fail_with_their_own_fix(cfg_of, tmp_path):
    dev = fake_dev(tmp_path)
    pi = doctor.check_camera(
        cfg_of('[camera]\nbackend = "picamera2"\n'),
        Probe(dev=dev, use_kiosk_probe=False, run=NO_CMD),
    )
    assert pi.level == FAIL and "picamera2 cannot be imported" in pi.found
    assert "python3-picamera2" in pi.fix and "--system-site-packages" in pi.fix
    cv = doctor.check_camera(
        cfg_of('[camera]\nbackend = "opencv"\n'), Probe(dev=dev, use_kiosk_probe=False, run=NO_CMD)
    )
    assert cv.level == FAIL and "no webcam opens at index 0" in cv.found
    missing = doctor.check_camera(
        cfg_of(f'[camera]\nbackend = "file"\nfolder = "{tmp_path}/nope"\n'), Probe(dev=dev)
    )
    assert missing.level == FAIL and "does not exist" in missing.found


def test_camera_device_present_is_ok_and_file_camera_warns(cfg_of, tmp_path):
    c = doctor.check_camera(
        cfg_of(), Probe(dev=fake_dev(tmp_path, "video0"), use_kiosk_probe=False, run=NO_CMD)
    )
    assert c.level == OK and "video0" in c.found
    f = doctor.check_camera(cfg_of('[camera]\nbackend = "file"\n'), Probe())
    assert f.level == WARN and "sample photos" in f.found


def test_camera_held_by_the_running_kiosk_is_asked_not_opened(cfg_of, tmp_path):
    """The kiosk holds the camera (it opens for one process only): the doctor reads the
    kiosk's health file instead of reporting a false failure — and trusts it only while the
    process that wrote it runs on this boot."""
    import dataclasses
    import json

    from booth.clock import boot_id
    from kiosk.camera.statefile import CameraHealth, health_path

    cfg = cfg_of()
    path = health_path(cfg.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)

    def kiosk_says(**kw) -> None:
        base = CameraHealth(
            pid=os.getpid(),
            boot_id=boot_id(),
            state="live",
            backend="picamera2",
            fault=None,
            trouble_s=0.0,
            restarts=0,
        )
        path.write_text(json.dumps(dataclasses.asdict(dataclasses.replace(base, **kw))))

    probe = Probe(dev=fake_dev(tmp_path), run=NO_CMD)
    kiosk_says()
    live = doctor.check_camera(cfg, probe)
    assert (
        live.level == OK
        and f"kiosk (pid {os.getpid()}) has the picamera2 camera live" in live.found
    )
    kiosk_says(
        state="reconnecting",
        backend=None,
        restarts=4,
        trouble_s=31.0,
        fault="cannot open: no camera works (picamera2 cannot be imported: ValueError: "
        "numpy.dtype size changed, may indicate binary incompatibility)",
    )
    broken = doctor.check_camera(cfg, probe)
    assert broken.level == FAIL and "numpy.dtype size changed" in broken.found
    assert "deploy/install.sh" in broken.fix and "numpy" in broken.fix
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    kiosk_says(pid=gone.pid)  # a kiosk that is no more: probe the camera as usual
    assert doctor.check_camera(cfg, probe).found.startswith("no camera:")
    kiosk_says(boot_id="another-boot")  # written before a reboot: stale
    assert doctor.check_camera(cfg, probe).found.startswith("no camera:")


def test_camera_on_this_machine_is_what_is_true(cfg_of):
    """The real probe (the kiosk's, when installed): this machine has a camera only if it has a
    /dev/video* device or picamera2."""
    import glob
    import importlib.util

    c = doctor.check_camera(cfg_of(), Probe())
    has_camera = bool(glob.glob("/dev/video*")) or importlib.util.find_spec("picamera2")
    if has_camera:
        pytest.skip("this machine has a camera device; the no-camera outcome is tested above")
    assert c.level == FAIL, c


# ----------------------------------------------------------------------------- display
def test_display_fails_without_drm_or_display(cfg_of, tmp_path):
    c = doctor.check_display(cfg_of(), Probe(env={}, dev=fake_dev(tmp_path)))
    assert c.level == FAIL and "no DRM device" in c.found and "vc4-kms-v3d" in c.fix
    x = doctor.check_display(
        cfg_of(), Probe(env={"SDL_VIDEODRIVER": "x11"}, dev=fake_dev(tmp_path))
    )
    assert x.level == FAIL and "SDL_VIDEODRIVER=x11" in x.found


def test_display_ok_with_drm_or_x_and_warns_on_dummy(cfg_of, tmp_path):
    drm = doctor.check_display(
        cfg_of(), Probe(env={"SDL_VIDEODRIVER": "kmsdrm"}, dev=fake_dev(tmp_path, "dri/card1"))
    )
    assert drm.level == OK and "card1" in drm.found
    x11 = doctor.check_display(cfg_of(), Probe(env={"DISPLAY": ":0"}, dev=fake_dev(tmp_path)))
    assert x11.level == OK
    dummy = doctor.check_display(cfg_of(), Probe(env={"SDL_VIDEODRIVER": "dummy"}))
    assert dummy.level == WARN


# ----------------------------------------------------------------------------- broker
@pytest.fixture
def secured_broker(tmp_path):
    root = tmp_path / "root"
    port = free_port()
    run_install(root, "--booth-id", "b1", "--mqtt-port", str(port))
    b = GeneratedBroker(root, tmp_path / "mq", port)
    b.start()
    yield b
    b.stop(kill=True)


def test_broker_unreachable_fails(cfg_of):
    c = doctor.check_broker(cfg_of(BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}"), Probe())
    assert c.level == FAIL and "cannot reach" in c.found and "systemctl start mosquitto" in c.fix


@pytest.mark.broker  # secured_broker
def test_broker_wrong_password_fails_and_right_one_is_ok(cfg_of, secured_broker):
    user, pw = credentials(secured_broker.root, "kiosk")
    bad = doctor.check_broker(
        cfg_of(BOOTH_MQTT_URL=f"mqtt://{user}:wrong@127.0.0.1:{secured_broker.port}"), Probe()
    )
    assert bad.level == FAIL and "refused the connection" in bad.found
    assert "password" in bad.fix and "wrong" not in bad.found
    anon = doctor.check_broker(
        cfg_of(BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{secured_broker.port}"), Probe()
    )
    assert anon.level == FAIL and "refused" in anon.found
    good = doctor.check_broker(
        cfg_of(BOOTH_MQTT_URL=f"mqtt://{user}:{pw}@127.0.0.1:{secured_broker.port}"), Probe()
    )
    assert good.level == OK and "as kiosk" in good.found and pw not in good.found


def test_broker_that_is_not_mqtt_fails(cfg_of):
    import socket

    with socket.socket() as srv:  # accepts TCP, never speaks MQTT
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        c = doctor.check_broker(
            cfg_of(BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{port}"), Probe(broker_timeout_s=1.0)
        )
    assert c.level == FAIL and "no MQTT session" in c.found


# ----------------------------------------------------------------------------- workers
def test_workers_check_reads_availability_and_health(cfg_of, broker):
    """What the workers published (retained): none online warns; a worker whose AI state is an
    error fails with its own reason and fix; a healthy one is ok."""
    import paho.mqtt.client as paho

    from booth.protocol import AiState
    from worker.health import worker_health

    cfg = cfg_of(BOOTH_MQTT_URL=broker.url)
    none = doctor.check_workers(cfg, Probe())
    assert none.level == FAIL and "no worker is online" in none.found
    assert "photos are paused" in none.found and "booth-worker" in none.fix
    # on a worker machine its own worker may not be started yet: a warning there
    assert doctor.check_workers(cfg, Probe(), role="worker").level == WARN
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:

        def say(worker, online, ai):
            pub.publish(
                f"booth/workers/{worker}/availability",
                "online" if online else "offline",
                qos=1,
                retain=True,
            ).wait_for_publish(5)
            pub.publish(
                f"booth/workers/{worker}/health",
                worker_health(worker, ai, "HTTP 400", 300, 0, {}, None).to_json(),
                qos=1,
                retain=True,
            ).wait_for_publish(5)

        say("w1", True, AiState.OK)
        say("w0", False, AiState.KEY_REJECTED)  # offline: its old health does not count
        ok = doctor.check_workers(cfg, Probe())
        assert ok.level == OK and "w1 (AI ok)" in ok.found
        say("w2", True, AiState.KEY_REJECTED)
        bad = doctor.check_workers(cfg, Probe())
        assert bad.level == FAIL and "worker w2: AI key_rejected" in bad.found
        assert "GEMINI_API_KEY" in bad.fix
    finally:
        pub.loop_stop()
        pub.disconnect()
    gone = doctor.check_workers(cfg_of(BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}"), Probe())
    assert gone.level == WARN and "not checked" in gone.found


# ----------------------------------------------------------------------------- API key
GOOD_KEY = "test-key-accepted"
MODELS = {"gemini-2.5-flash-image"}


@pytest.fixture
def gemini():
    g = FakeGemini(api_keys={GOOD_KEY}, models=MODELS)
    yield g
    g.close()


def test_api_key_missing_warns(cfg_of):
    c = doctor.check_api_key(cfg_of(), Probe())
    assert c.level == WARN and "GEMINI_API_KEY is not set" in c.found
    assert "/etc/booth/secrets.env" in c.fix


def test_api_key_accepted_rejected_and_unknown_model(cfg_of, gemini):
    ok = doctor.check_api_key(cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=gemini.url), Probe())
    assert ok.level == OK and "accepted the key" in ok.found
    assert gemini.lookups[-1] == "/v1beta/models/gemini-2.5-flash-image"
    bad = doctor.check_api_key(
        cfg_of(GEMINI_API_KEY="wrong-key", GEMINI_BASE_URL=gemini.url), Probe()
    )
    assert bad.level == FAIL and "rejected the API key" in bad.found
    assert "wrong-key" not in bad.found + bad.fix
    model = doctor.check_api_key(
        cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=gemini.url, GEMINI_MODEL="no-such-model"),
        Probe(),
    )
    assert model.level == FAIL and "'no-such-model' was not found" in model.found


def test_api_key_region_refusal_is_not_called_a_bad_key(cfg_of):
    refusing = FakeGemini(api_keys={GOOD_KEY}, lookup_reply=Reply.real("location_unsupported"))
    try:
        c = doctor.check_api_key(
            cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=refusing.url), Probe()
        )
    finally:
        refusing.close()
    assert c.level == FAIL and "User location is not supported" in c.found
    assert "rejected the API key" not in c.found and "billing" in c.fix


def test_api_key_offline_skips_the_call(cfg_of, gemini):
    c = doctor.check_api_key(
        cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=gemini.url), Probe(), offline=True
    )
    assert c.level == OK and "--offline" in c.found
    assert gemini.lookups == []


def test_api_rate_limited_or_unreachable_warns(cfg_of):
    limited = FakeGemini(api_keys={GOOD_KEY}, lookup_reply=Reply.error(429))
    try:
        c = doctor.check_api_key(
            cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=limited.url), Probe()
        )
        assert c.level == WARN and "429" in c.found
    finally:
        limited.close()
    gone = doctor.check_api_key(
        cfg_of(GEMINI_API_KEY=GOOD_KEY, GEMINI_BASE_URL=f"http://127.0.0.1:{free_port()}"),
        Probe(api_timeout_s=5),
    )
    assert gone.level == WARN and "could not reach" in gone.found


# ----------------------------------------------------------------------------- disk
def test_disk_fails_and_warns_below_the_limits(cfg_of, monkeypatch):
    cfg = cfg_of()
    assert doctor.check_disk(cfg, Probe()).level == OK  # this VM has room
    monkeypatch.setattr(machine, "DISK_WARN_BYTES", 1 << 62)
    assert doctor.check_disk(cfg, Probe()).level == WARN
    monkeypatch.setattr(machine, "DISK_FAIL_BYTES", 1 << 61)
    c = doctor.check_disk(cfg, Probe())
    assert c.level == FAIL and "GiB free" in c.found and "retention_days" in c.fix


# ----------------------------------------------------------------------------- clock
def test_clock_in_the_past_fails_and_unsynced_warns(cfg_of):
    old = doctor.check_clock(cfg_of(), Probe(now=lambda: datetime(1970, 1, 1, tzinfo=UTC)))
    assert old.level == FAIL and "1970-01-01" in old.found and "timedatectl" in old.fix
    unsynced = doctor.check_clock(cfg_of(), Probe(synchronized=lambda: False))
    assert unsynced.level == WARN and "not NTP synchronised" in unsynced.found
    assert "retention deletes nothing" in unsynced.found
    trusted = doctor.check_clock(cfg_of("trust_clock = true\n"), Probe(synchronized=lambda: False))
    assert trusted.level == OK and "trust_clock" in trusted.found
    synced = doctor.check_clock(cfg_of(), Probe(synchronized=lambda: True))
    assert synced.level == OK
    unknown = doctor.check_clock(cfg_of(), Probe(synchronized=lambda: None))
    assert unknown.level == OK and "unknown" in unknown.found


def test_an_unsynchronized_clock_before_the_install_fails_with_the_fix(cfg_of):
    """A Pi 4 at an offline event: the clock restarts weeks behind the day it was installed."""
    installed = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()

    def behind() -> datetime:
        return datetime(2026, 10, 30, 12, 0, tzinfo=UTC)

    c = doctor.check_clock(
        cfg_of(), Probe(now=behind, synchronized=lambda: False, install_time=lambda: installed)
    )
    assert c.level == FAIL and "before this booth was installed (2026-11-20" in c.found
    assert "timedatectl set-ntp true" in c.fix and "RTC battery" in c.fix
    synced = doctor.check_clock(
        cfg_of(), Probe(now=behind, synchronized=lambda: True, install_time=lambda: installed)
    )
    assert synced.level == OK  # network time says so: the install stamp was the wrong one
    later = doctor.check_clock(
        cfg_of(),
        Probe(
            now=lambda: datetime(2026, 11, 24, tzinfo=UTC),
            synchronized=lambda: False,
            install_time=lambda: installed,
        ),
    )
    assert later.level == WARN


# ----------------------------------------------------------------------------- share URL
def test_share_url_not_on_this_machine_fails(cfg_of):
    c = doctor.check_share_url(
        cfg_of('[share]\npublic_url = "http://198.51.100.77:8080"\n'), Probe()
    )
    assert c.level == FAIL and "not an address of this machine" in c.found
    lo = doctor.check_share_url(cfg_of('[share]\npublic_url = "http://127.0.0.1:8080"\n'), Probe())
    assert lo.level == FAIL and "loopback" in lo.found
    dns = doctor.check_share_url(
        cfg_of('[share]\npublic_url = "http://booth.invalid:8080"\n'), Probe()
    )
    assert dns.level == WARN and "does not resolve" in dns.found


def test_share_url_on_this_machine_is_ok(cfg_of):
    ip = lan_address()
    if ip == "127.0.0.1":
        pytest.skip("this machine has no network address")
    c = doctor.check_share_url(cfg_of(f'[share]\npublic_url = "http://{ip}:8080"\n'), Probe())
    assert c.level == OK, c
    auto = doctor.check_share_url(cfg_of(), Probe())
    assert auto.level == OK and ip in auto.found


# ----------------------------------------------------------------------------- whole command
@pytest.mark.broker  # secured_broker
def test_doctor_on_this_machine_exit_code_matches(tmp_path, secured_broker):
    """`booth doctor` as a technician runs it: the broker check uses the generated credentials
    (--env-file), the rest is this machine: no camera, no display, no API key."""
    toml = tmp_path / "booth.toml"
    toml.write_text(f'data_dir = "{tmp_path}/data"\n')
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GEMINI_API_KEY", "BOOTH_MQTT_URL", "SDL_VIDEODRIVER", "DISPLAY")
    }
    kiosk_env = secured_broker.root / "etc/booth/kiosk.env"
    out = subprocess.run(
        [BOOTH, "--config", str(toml), "doctor", "--env-file", str(kiosk_env)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    lines = {
        name: ln[1:5].strip()
        for ln in out.stdout.splitlines()
        for name in doctor.BOOTH_CHECKS
        if ln[7:].startswith(name + " ")
    }
    assert lines["broker"] == "ok", out.stdout
    assert lines["api key"] == "warn"
    assert lines["clock"] in ("ok", "warn")
    any_fail = any(v == "fail" for v in lines.values())
    assert out.returncode == (1 if any_fail else 0), out.stdout
    assert len(lines) == len(doctor.BOOTH_CHECKS)
    assert lines["hotspot"] == "ok"  # no booth Wi-Fi on this machine: nothing to check
    # no worker and no share server runs here: each is a failure with a clear line
    assert lines["workers"] == "fail" and "no worker is online" in out.stdout
    assert lines["share server"] == "fail" and "nothing answers on" in out.stdout
    assert out.returncode == 1
    # What is true here: no camera device and no display unless this machine has them.
    import glob

    if not glob.glob("/dev/video*"):
        assert lines["camera"] == "fail"
    if not glob.glob("/dev/dri/card*") and not os.environ.get("DISPLAY"):
        assert lines["display"] == "fail"
    assert "kiosk:***@" in out.stdout
    password = credentials(secured_broker.root, "kiosk")[1]
    assert password not in out.stdout + out.stderr


@pytest.mark.broker  # secured_broker
def test_doctor_worker_role_passes_with_a_broker_and_no_key(tmp_path, secured_broker):
    toml = tmp_path / "booth.toml"
    toml.write_text(f'data_dir = "{tmp_path}/data"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "BOOTH_MQTT_URL")}
    out = subprocess.run(
        [
            BOOTH,
            "--config",
            str(toml),
            "doctor",
            "--role",
            "worker",
            "--env-file",
            str(secured_broker.root / "etc/booth/worker.env"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "camera" not in out.stdout and "[ ok ] broker" in out.stdout


def test_env_file_parsing(tmp_path):
    f = tmp_path / "x.env"
    f.write_text("# comment\n\nA=1\nB=\"two words\"\nC='q'\n;skip\nD=x=y\n")
    assert doctor.read_env_file(f) == {"A": "1", "B": "two words", "C": "q", "D": "x=y"}


def test_camera_busy_with_the_running_kiosk_warns(cfg_of, tmp_path):
    def run(argv):
        return "active\n" if argv[:2] == ["systemctl", "is-active"] else None

    c = doctor.check_camera(cfg_of(), Probe(dev=fake_dev(tmp_path), use_kiosk_probe=False, run=run))
    assert c.level == WARN and "booth-kiosk is running" in c.found


def test_share_server_listening_elsewhere_fails(cfg_of):
    c = doctor.check_share_url(
        cfg_of('[share]\nhost = "127.0.0.1"\npublic_url = "http://198.51.100.77:8080"\n'), Probe()
    )
    assert c.level == FAIL and "listens on 127.0.0.1 only" in c.found


# ----------------------------------------------------------------------------- hotspot
# The working hotspot (DHCP, DNS, portal on port 80) is checked for real in
# tests/deploy/test_hotspot_netns.py; these are the states before any of it can answer.
def _nmcli(text: str | None):
    return lambda argv: text if argv[0] == "nmcli" else None


def test_share_server_check_needs_this_booths_server_answering(cfg_of, tmp_path):
    """ "share url ok" was printed with nothing listening: now the port is asked."""
    from jobstore.ledger import Ledger, ledger_path
    from share.server import make_app
    from tests.share.helpers import ServerThread

    port = free_port()
    cfg = cfg_of(f'[share]\nhost = "127.0.0.1"\nport = {port}\n')
    nothing = doctor.check_share_server(cfg, Probe())
    assert nothing.level == FAIL and f"nothing answers on 127.0.0.1:{port}" in nothing.found
    assert "QR links lead nowhere" in nothing.found and "booth-share" in nothing.fix
    ledger = Ledger(ledger_path(cfg.data_dir))
    srv = ServerThread(make_app(cfg, ledger=ledger)).start()
    try:
        cfg.share.port = srv.port
        ok = doctor.check_share_server(cfg, Probe())
        assert ok.level == OK, ok
        other = cfg_of(f'[share]\nhost = "127.0.0.1"\nport = {srv.port}\n', BOOTH_ID="another")
        wrong = doctor.check_share_server(other, Probe())
        assert wrong.level == FAIL and "not this booth" in wrong.found
    finally:
        srv.stop()
        ledger.close()
    # the whole command: a line that says so, and exit code 1
    assert "share server" in doctor.BOOTH_CHECKS


def test_hotspot_not_set_up_is_fine_unless_the_portal_expects_one(cfg_of):
    assert doctor.check_hotspot(cfg_of(), Probe(run=_nmcli(None))).level == OK
    c = doctor.check_hotspot(cfg_of("[share]\nportal = true\n"), Probe(run=_nmcli(None)))
    assert c.level == FAIL and "no booth-hotspot profile" in c.found


def test_hotspot_profile_down_fails_with_the_way_up(cfg_of):
    c = doctor.check_hotspot(cfg_of(), Probe(run=_nmcli("")))  # known profile, not active
    assert c.level == FAIL and "not active" in c.found and "nmcli connection up" in c.fix


def test_hotspot_without_its_dnsmasq_fails(cfg_of, tmp_path):
    up = "GENERAL.STATE:activated\nGENERAL.DEVICES:wlan0\nIP4.ADDRESS[1]:10.42.0.1/24\n"
    c = doctor.check_hotspot(cfg_of(), Probe(run=_nmcli(up), nm_run_dir=tmp_path))
    assert c.level == FAIL and "no DHCP/DNS server" in c.found
    (tmp_path / "nm-dnsmasq-wlan0.pid").write_text(f"{os.getpid()}\n")  # a pid, not dnsmasq
    c = doctor.check_hotspot(cfg_of(), Probe(run=_nmcli(up), nm_run_dir=tmp_path))
    assert c.level == FAIL and "no DHCP/DNS server" in c.found
    noaddr = "GENERAL.STATE:activated\nGENERAL.DEVICES:wlan0\n"
    c = doctor.check_hotspot(cfg_of(), Probe(run=_nmcli(noaddr), nm_run_dir=tmp_path))
    assert c.level == FAIL and "without an IPv4 address" in c.found
