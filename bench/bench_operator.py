"""The operator's view: the zip of a 200-photo event streamed by a real `booth share`, with the
server's RSS sampled all along (a fast client, then a slow one), and how long the dashboard's
state takes to build.

    .venv/bin/python bench/bench_operator.py [--photos 200] [--size-mb 1.5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import cv2
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import figure, median
from booth.protocol import Effect, JobStatus, Status, new_job_id
from jobstore.ledger import Ledger, ledger_path, photo_dir


def photo_bytes(size_mb: float) -> bytes:
    """A real JPEG of about `size_mb` (noise compresses badly: a phone photo's size)."""
    side = 600
    while True:
        rng = np.random.default_rng(7)
        img = rng.integers(0, 255, (side, side * 4 // 3, 3), dtype=np.uint8)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if len(buf) >= size_mb * 1e6 or side > 4000:
            return buf.tobytes()
        side = int(side * 1.3)


def make_event(data_dir: Path, photos: int, size_mb: float) -> int:
    """`photos` finished jobs (every file a hard link of one JPEG: little disk)."""
    led = Ledger(ledger_path(data_dir))
    src = data_dir / "photo.jpg"
    src.write_bytes(photo_bytes(size_mb))
    now = time.time() - photos * 30
    for i in range(photos):
        job = new_job_id()
        created = now + i * 30
        folder = photo_dir(data_dir, created)
        folder.mkdir(parents=True, exist_ok=True)
        rel = {}
        for name in ("original", "ai", "result"):
            path = folder / f"{job}-{name}.jpg"
            os.link(src, path)
            rel[name] = str(path.relative_to(data_dir))
        led.insert_pending(
            job, "benchbooth", "drip", created, "2026-11-24T00:00:00Z", rel["original"], rel["ai"]
        )
        led.apply_status(
            Status(job, "benchbooth", JobStatus.COMPLETED, effect=Effect.GEMINI), at=created + 6
        )
        led.store_result(job, rel["result"])
    led.close()
    return src.stat().st_size


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def login(port: int) -> str:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(
        "POST",
        "/admin/login",
        urlencode({"password": "bench-pw"}),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 303, r.status
    cookie = r.getheader("Set-Cookie")
    assert cookie is not None, "no session cookie"
    return cookie.split(";", 1)[0]


def download(
    port: int, cookie: str, rate_bps: float | None = None, limit: int | None = None
) -> int:
    """Read the zip (at most `rate_bps` bytes/s; stop after `limit` bytes); bytes read."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", "/admin/event.zip", headers={"Cookie": cookie})
    r = c.getresponse()
    assert r.status == 200, r.status
    got, t0 = 0, time.monotonic()
    while True:
        chunk = r.read(64 * 1024)
        if not chunk:
            break
        got += len(chunk)
        if limit is not None and got >= limit:
            break
        if rate_bps:
            ahead = got / rate_bps - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    c.close()
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--size-mb", type=float, default=1.5)
    args = ap.parse_args()
    from appliance.services import free_loopback_port

    tmp = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    proc = None
    try:
        data = tmp / "data"
        data.mkdir()
        size = make_event(data, args.photos, args.size_mb)
        port, admin = free_loopback_port(), free_loopback_port()
        (tmp / "booth.toml").write_text(f"[share]\nadmin_port = {admin}\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BOOTH_")},
            "BOOTH_CONFIG": str(tmp / "booth.toml"),
            "BOOTH_ID": "benchbooth",
            "BOOTH_DATA_DIR": str(data),
            "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
            "BOOTH_ADMIN_PASSWORD": "bench-pw",
        }
        log = open(tmp / "share.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance.cli",
                "share",
                "--no-mqtt",
                "--no-retention",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=str(ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        end = time.monotonic() + 30
        while True:
            try:
                cookie = login(admin)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        # the dashboard's state (health, the event's numbers, one page)
        c = http.client.HTTPConnection("127.0.0.1", admin, timeout=30)
        took = []
        for _ in range(40):
            t0 = time.perf_counter()
            c.request("GET", "/admin/api/state", headers={"Cookie": cookie})
            r = c.getresponse()
            r.read()
            took.append((time.perf_counter() - t0) * 1000)
        c.close()
        figure(
            f"dashboard state, {args.photos}-photo event (median of 40)",
            median(took),
            "ms",
            "≤ 100 ms",
            median(took) <= 100,
        )
        before = rss(proc.pid)
        sampler = RssSampler(proc.pid)
        sampler.start()
        t0 = time.monotonic()
        got = download(admin, cookie)
        secs = time.monotonic() - t0
        sampler.stop.set()
        sampler.join()
        total = args.photos * size
        assert got > total, (got, total)
        figure(
            f"zip of {args.photos} photos ({got / 1e6:.0f} MB) streamed", got / 1e6 / secs, "MB/s"
        )
        figure("share server RSS before the zip", before / 2**20, "MB")
        grow = (sampler.peak - before) / 2**20
        figure(
            f"share server RSS growth during the {args.photos}-photo zip (peak)",
            grow,
            "MB",
            "≤ 30 MB",
            grow <= 30,
        )
        # a slow client (a phone on weak Wi-Fi) for a while, then it goes away
        sampler = RssSampler(proc.pid)
        sampler.start()
        before = rss(proc.pid)
        download(admin, cookie, rate_bps=4e6, limit=int(24e6))
        time.sleep(1.5)
        sampler.stop.set()
        sampler.join()
        grow = (sampler.peak - before) / 2**20
        figure(
            "share server RSS growth, a 4 MB/s client leaving after 24 MB",
            grow,
            "MB",
            "≤ 30 MB",
            grow <= 30,
        )
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
