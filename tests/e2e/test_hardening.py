"""The booth as real processes against bad luck and hostile input: a decompression bomb as a
result and through `booth snap`, a damaged ledger, a full disk when a result arrives, and
`booth snap` next to another booth's share server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import paho.mqtt.client as paho
import pytest

from booth.config import load_config
from booth.protocol import Effect, JobStatus, Status, result_properties
from jobstore.ledger import Ledger, ledger_path
from tests.e2e.rig import BOOTH, ROOT, http_get, http_ok, wait_until
from tests.share.helpers import add_job
from tests.support.bombs import png_bomb
from tests.support.mosquitto import free_port

MB = 1024 * 1024
PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"


def peak_rss(pid: int) -> int:
    """The highest resident set size the process has had (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


# Runs `booth …` and writes the process's own peak RSS (VmHWM) at exit. wait4's ru_maxrss would
# not do: a child spawned with vfork() inherits this test process's high-water mark at its exec
# (Linux keeps the larger of the old and new memory maps'), so it measured pytest, not the booth.
_OWN_PEAK = """
import atexit, os, runpy, sys
out = os.environ.pop("BOOTH_TEST_PEAK_FILE")
def peak():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(out, "w") as f:
        f.write(kb)
atexit.register(peak)
runpy.run_module("appliance.cli", run_name="__main__", alter_sys=True)
"""


def run_measured(
    args: list[str], env: dict, tmp: Path, timeout: float = 120
) -> tuple[int, str, str, int]:
    """Run `booth ARGS`; (exit code, stdout, stderr, its own peak RSS in bytes)."""
    peak_file = tmp / "peak-kb"
    proc = subprocess.run(
        [sys.executable, "-c", _OWN_PEAK, *args],
        cwd=str(ROOT),
        env={**env, "BOOTH_TEST_PEAK_FILE": str(peak_file)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr, int(peak_file.read_text()) * 1024


def publish(broker, topic: str, payload: bytes, retain: bool = True, props=None) -> None:
    c = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=f"t-{os.getpid()}", protocol=paho.MQTTv5
    )
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1, retain=retain, properties=props).wait_for_publish(30)
    finally:
        c.disconnect()
        c.loop_stop()


def rig_cfg(rig):
    return load_config(
        rig.config,
        env={"BOOTH_MQTT_URL": rig.broker.url, "BOOTH_DATA_DIR": str(rig.data), "BOOTH_ID": "e2e"},
    )


def login(admin_port: int, password: str) -> str:
    req = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}/admin/login",
        data=urlencode({"password": password}).encode(),
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 303, e.code
        return e.headers["Set-Cookie"].split(";", 1)[0]
    raise AssertionError("no redirect after login")


def test_a_20000x20000_png_as_a_result_and_through_snap(rig, broker, tmp_path):
    """Refused from the header, before any decoding, everywhere: the kiosk (result), the share
    server (a thumbnail of such a file on disk), `booth snap`. Peak RSS of every process
    stays under 300 MB."""
    admin_port = free_port()
    rig.config.write_text(
        rig.config.read_text().replace("[share]\n", f"[share]\nadmin_port = {admin_port}\n")
    )
    share = rig.spawn("share", "share", env=dict(rig.env, BOOTH_ADMIN_PASSWORD="op-pass"))
    wait_until(lambda: http_ok(f"http://127.0.0.1:{rig.share_port}/healthz"), 30, share.text)
    kiosk = rig.kiosk()
    wait_until(lambda: rig.kiosk_state().get("screen") == "attract", 60, kiosk.text)
    rig.shoot()  # no worker runs: the job waits, as a guest's would
    wait_until(lambda: rig.jobs(), 30, kiosk.text)
    job_id = rig.jobs()[0]["job_id"]
    bomb = png_bomb(20000, 20000)
    publish(broker, f"booth/e2e/results/{job_id}", bomb, props=result_properties("image/png"))
    wait_until(lambda: "result refused" in kiosk.text(), 30, kiosk.text)
    assert "20000×20000 = 400 megapixels" in kiosk.text()
    assert rig.jobs()[0]["result_path"] is None

    # the same picture already on disk as a result (stored before results were guarded)
    cfg = rig_cfg(rig)
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        stored = add_job(cfg, ledger)
    finally:
        ledger.close()
    stored.result.write_bytes(bomb)
    cookie = login(admin_port, "op-pass")
    req = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}/admin/thumb/{stored.job_id}.jpg", headers={"Cookie": cookie}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 404
    assert "no thumbnail" in share.text() and "megapixels" in share.text()

    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    code, out, err, snap_peak = run_measured(["snap", str(path)], rig.env, tmp_path)
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and "20000×20000" in err, err

    peaks = {
        "kiosk": peak_rss(kiosk.pid),
        "share": peak_rss(share.pid),
        "mosquitto": peak_rss(broker.proc.pid),
        "snap": snap_peak,
    }
    print("peak RSS (MB):", {k: round(v / MB) for k, v in peaks.items()})
    assert all(v < 300 * MB for v in peaks.values()), peaks
    assert kiosk.alive() and share.alive()


def test_snap_refuses_another_booths_share_server_on_its_port(rig, tmp_path):
    """A share server of another booth (its own data dir) answers on the configured port: a
    link from this snap would not open this photo, so snap says so and sends nothing."""
    other = tmp_path / "other-data"
    other.mkdir()
    env = dict(rig.env, BOOTH_ID="elsewhere", BOOTH_DATA_DIR=str(other))
    foreign = rig.spawn("share-elsewhere", "share", env=env)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{rig.share_port}/healthz"), 30, foreign.text)
    out = subprocess.run(
        BOOTH + ["snap", str(PORTRAIT)],
        env=rig.env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "'elsewhere'" in out.stderr and str(other) in out.stderr
    assert "download:" not in out.stdout
    assert rig.jobs() == []  # nothing was submitted


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed_header"])
def test_a_damaged_ledger_kiosk_and_share_come_up_and_links_work(rig, broker, damage):
    cfg = rig_cfg(rig)
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        jobs = [add_job(cfg, ledger) for _ in range(3)]
    finally:
        ledger.close()
    for j in jobs:  # the worker's retained statuses, as on a real booth
        st = Status(j.job_id, "e2e", JobStatus.COMPLETED, effect=Effect.LOCAL, worker="w1")
        publish(broker, f"booth/e2e/status/{j.job_id}", st.to_json())
    path = ledger_path(cfg.data_dir)
    raw = path.read_bytes()
    path.write_bytes(
        {
            "garbage": os.urandom(len(raw)),
            "truncated": raw[: len(raw) // 2],
            "zeroed_header": b"\0" * 100 + raw[100:],
        }[damage]
    )

    doctor = subprocess.run(
        BOOTH + ["doctor", "--offline"],
        env=rig.env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert re.search(r"\[fail\] ledger .* is damaged", doctor.stdout), doctor.stdout

    # kiosk and share start together: one rebuilds, the other waits for it
    share = rig.spawn("share", "share")
    kiosk = rig.kiosk()
    wait_until(
        lambda: http_ok(f"http://127.0.0.1:{rig.share_port}/healthz"),
        60,
        lambda: share.text() + kiosk.text(),
    )
    wait_until(lambda: rig.kiosk_state().get("screen") == "attract", 60, kiosk.text)
    for j in jobs:
        assert (
            http_get(f"http://127.0.0.1:{rig.share_port}/p/{j.token}/photo.jpg")
            == j.result.read_bytes()
        )
    assert len(list(rig.data.glob("ledger.corrupt-*.sqlite"))) == 1
    logs = share.text() + kiosk.text()
    assert logs.count("ledger rebuilt") == 1 and "Traceback" not in logs
    doctor = subprocess.run(
        BOOTH + ["doctor", "--offline"],
        env=rig.env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert re.search(r"\[warn\] ledger +the ledger was damaged .* rebuilt", doctor.stdout), (
        doctor.stdout
    )
    assert "3 guest links kept" in doctor.stdout


def test_disk_full_when_the_result_arrives_then_space_freed(rig, small_disk):
    """The guest waits on Processing while the disk is full; once space is freed the result
    is stored and their screen shows it — the kiosk is not restarted."""
    rig.data = small_disk / "data"
    rig.data.mkdir()
    env = dict(rig.env, BOOTH_DATA_DIR=str(rig.data))
    rig.spawn("share", "share", env=env)
    kiosk = rig.kiosk("--interval", "100000", env=env)  # only the test's shot
    wait_until(lambda: rig.kiosk_state().get("screen") == "attract", 60, kiosk.text)
    rig.shoot()
    wait_until(lambda: rig.jobs() and rig.jobs()[0]["sent_at"], 30, kiosk.text)
    job_id = rig.jobs()[0]["job_id"]
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    worker = rig.spawn("worker-w1", "worker", "--id", "w1", env=env)
    wait_until(
        lambda: "cannot store its results" in kiosk.text(), 60, lambda: kiosk.text() + worker.text()
    )
    time.sleep(2)
    assert rig.kiosk_state().get("jobs", {}).get(job_id) != "ready"
    assert rig.jobs()[0]["result_path"] is None
    filler.unlink()
    wait_until(
        lambda: rig.kiosk_state().get("jobs", {}).get(job_id) == "ready",
        60,
        lambda: f"{rig.kiosk_state()}\n{kiosk.text()[-3000:]}",
    )
    wait_until(lambda: rig.kiosk_state().get("screen") == "result", 10, rig.kiosk_state)
    (job,) = rig.check_nothing_lost()
    assert job["status"] == "completed"
    assert kiosk.alive() and "Traceback" not in kiosk.text()
    assert not list(rig.data.rglob("*.tmp"))
    shutil.rmtree(rig.data, ignore_errors=True)
