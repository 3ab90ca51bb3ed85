"""Benchmark of cloud sharing: a real `booth share` process uploading to an S3-protocol server
(moto over HTTP on loopback, in this process), the kiosk's side played through the ledger.

- result stored → cloud link ready, for a 1.5 MB result (median of 20): from the ledger commit
  that stores the result (what the kiosk does) to the confirmed link the kiosk reads;
- draining a backlog of 200 photos queued while the bucket was unreachable (photos/s);
- the share process's peak RSS with the uploader running;
- the QR code's module count for the LAN link and for the cloud link (public base URL and
  presigned, for a typical Cloudflare R2 endpoint): fewer modules = bigger, easier modules;
- a slow uplink (64 kB/s, tests/support/throttle.py in front of the S3 server): three 0.85 MB
  photos stored 4 s apart, each while the older ones upload — result stored → cloud link for
  each, once with the rate per connection (a distant endpoint) and once shared by all (a
  saturated venue uplink).

Loopback has no bandwidth limit: on a booth the upload time of 1.5 MB over the venue's uplink
adds to the first figure (about 1.2 s at 10 Mbit/s).

    .venv/bin/python bench/bench_cloud.py [--runs 20] [--backlog 200] [--no-slow-uplink]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import figure
from booth.config import load_config
from booth.protocol import Effect, JobStatus, Status, new_job_id
from booth.qr import qr_matrix
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.links import new_token, qr_link
from jobstore.uploads import Uploads
from tests.support.s3 import CREDS, MotoS3, cloud_toml
from tests.support.throttle import ThrottledProxy

SLOW_RATE = 64 * 1024  # bytes/s
SLOW_GAP_S = 4.0  # between the slow-uplink photos


def jpeg_of(size_mb: float) -> bytes:
    """A real JPEG of about `size_mb` (noise, lightly blurred, 1536 px wide)."""
    rng = np.random.default_rng(7)
    target, lo, hi, best = int(size_mb * 1_000_000), 200, 4000, b""
    while hi - lo > 8:
        h = (lo + hi) // 2
        noise = cv2.GaussianBlur(rng.integers(0, 255, (h, 1536, 3), dtype=np.uint8), (3, 3), 0)
        best = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        lo, hi = (h, hi) if len(best) < target else (lo, h)
    return best


def store_result(data_dir: Path, led: Ledger, data: bytes) -> str:
    """What the kiosk does for a finished job: files, row, status, stored result (the token)."""
    now = time.time()
    job = new_job_id()
    folder = photo_dir(data_dir, now)
    folder.mkdir(parents=True, exist_ok=True)

    def rel(n: str) -> str:
        return str((folder / f"{job}-{n}.jpg").relative_to(data_dir))

    for name in ("original", "ai", "result"):
        (folder / f"{job}-{name}.jpg").write_bytes(data)
    led.insert_pending(
        job, "benchbooth", "drip", now, "2026-11-24T00:00:00Z", rel("original"), rel("ai")
    )
    led.apply_status(
        Status(job_id=job, booth_id="benchbooth", status=JobStatus.COMPLETED, effect=Effect.LOCAL)
    )
    assert led.store_result(job, rel("result"))
    return job


def start_share(config: Path, data_dir: Path, log) -> subprocess.Popen:
    from appliance.services import free_loopback_port

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BOOTH_")},
        **CREDS,
        "BOOTH_CONFIG": str(config),
        "BOOTH_ID": "benchbooth",
        "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
    }
    return subprocess.Popen(
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
            str(free_loopback_port()),
        ],
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_uploaded(queue: Uploads, job_ids: list[str], timeout: float) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        links = queue.links(job_ids)
        if len(links) == len(job_ids):
            return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError(f"{len(job_ids) - len(queue.links(job_ids))} uploads not confirmed")


def slow_uplink_figures(s3: MotoS3, data: bytes, shared: bool) -> None:
    """Three photos SLOW_GAP_S apart through a real `booth share` behind a 64 kB/s proxy."""
    proxy = ThrottledProxy(s3.port, SLOW_RATE, shared=shared).start()
    proc = None
    with tempfile.TemporaryDirectory(prefix="bench-cloud-slow-") as tmp:
        tmp_path = Path(tmp)
        config = tmp_path / "booth.toml"
        config.write_text(
            f'data_dir = "{tmp_path}/data"\n'
            + cloud_toml(s3, endpoint=proxy.endpoint, retry_max_s=5.0, timeout_s=30)
        )
        data_dir = load_config(config, env={**CREDS, "BOOTH_ID": "benchbooth"}).data_path
        led = Ledger(ledger_path(data_dir))
        queue = Uploads(ledger_path(data_dir))
        log = (tmp_path / "share.log").open("wb")
        try:
            proc = start_share(config, data_dir, log)
            time.sleep(2.0)  # the process up and its uploader looking
            stored: list[tuple[str, float]] = []
            for n in range(3):
                if n:
                    time.sleep(SLOW_GAP_S)
                stored.append((store_result(data_dir, led, data), time.time()))
            wait_uploaded(queue, [job for job, _ in stored], 300)
            links = queue.links(job for job, _ in stored)
            how = "shared by all uploads" if shared else "per connection"
            for n, (job, at) in enumerate(stored, 1):
                figure(
                    f"64 kB/s uplink ({how}), photos {SLOW_GAP_S:g} s apart: result → cloud "
                    f"link, photo {n} of 3 ({len(data) / 1e6:.2f} MB)",
                    links[job].uploaded_at - at,
                    "s",
                )
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(20)
            log.close()
            queue.close()
            led.close()
            proxy.stop()


def qr_figures() -> None:
    from booth.config import CloudConfig
    from share.cloud import Bucket

    token = new_token()
    lan = f"http://192.168.4.1:8080/p/{token}"
    r2 = CloudConfig(
        enabled=True,
        endpoint_url="https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
        region="auto",
        bucket="booth-photos",
        access_key_id="0123456789abcdef0123456789abcdef",
        secret_access_key="x" * 64,
    )
    presigned = Bucket(r2).link("booth/" + "A" * 22, 7 * 86400)  # signing is offline
    r2.public_base_url = "https://photos.example.com"
    public = Bucket(r2).link("booth/" + "A" * 22, 0)
    for name, url in (
        ("LAN link", lan),
        ("cloud link, public base URL", public),
        ("cloud link, presigned (R2)", presigned),
    ):
        url = qr_link(url)  # as the result screen carries it (kiosk/ui/screens/result.py)
        modules = len(qr_matrix(url)) - 8  # the matrix includes a 4-module quiet zone per side
        figure(
            f"QR modules, {name} ({len(url)} chars, version {(modules - 17) // 4})",
            modules,
            "modules",
            digits=0,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--backlog", type=int, default=200)
    ap.add_argument("--size-mb", type=float, default=1.5)
    ap.add_argument("--no-slow-uplink", action="store_true", help="skip the 64 kB/s figures")
    args = ap.parse_args()

    qr_figures()
    data = jpeg_of(args.size_mb)
    s3 = MotoS3().start()
    s3.create_bucket()
    if not args.no_slow_uplink:
        slow_photo = jpeg_of(0.85)
        for shared in (False, True):
            slow_uplink_figures(s3, slow_photo, shared)
    proc = None
    with tempfile.TemporaryDirectory(prefix="bench-cloud-") as tmp:
        tmp_path = Path(tmp)
        config = tmp_path / "booth.toml"
        config.write_text(f'data_dir = "{tmp_path}/data"\n' + cloud_toml(s3, retry_max_s=1.0))
        cfg = load_config(config, env={**CREDS, "BOOTH_ID": "benchbooth"})
        data_dir = cfg.data_path
        led = Ledger(ledger_path(data_dir))
        queue = Uploads(ledger_path(data_dir))
        log = (tmp_path / "share.log").open("wb")
        try:
            proc = start_share(config, data_dir, log)
            wait_uploaded(queue, [store_result(data_dir, led, data)], 60)  # warm-up
            lat = []
            for _ in range(args.runs):
                job = store_result(data_dir, led, data)
                t0 = time.monotonic()
                lat.append(wait_uploaded(queue, [job], 60) - t0)
                time.sleep(0.1)
            figure(
                f"result stored → cloud link ready, {len(data) / 1e6:.1f} MB (median of "
                f"{args.runs})",
                statistics.median(lat) * 1000,
                "ms",
            )

            s3.stop()  # offline: a backlog piles up
            jobs = [store_result(data_dir, led, data) for _ in range(args.backlog)]
            time.sleep(1.5)
            assert not queue.links(jobs), "uploaded while the bucket was down?"
            t0 = time.monotonic()
            s3.start()
            done = wait_uploaded(queue, jobs, 600)
            stamps = sorted(link.uploaded_at for link in queue.links(jobs).values())
            drain = (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-6)
            figure(
                f"backlog of {args.backlog} × {len(data) / 1e6:.1f} MB drained", drain, "photos/s"
            )
            figure(f"bucket back → all {args.backlog} links ready", done - t0, "s")
            rss = next(
                int(line.split()[1]) / 1024
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                if line.startswith("VmHWM:")
            )
            figure("share server peak RSS with the uploader", rss, "MB", "≤ 100 MB", rss <= 100)
            # each result's photo and page (the reveal clips the share server makes follow
            # their photos as they come: not counted)
            n_obj = len([k for k in s3.objects() if not k.endswith(".mp4")])
            slow_objects = 0 if args.no_slow_uplink else 2 * 3 * 2
            assert n_obj == 2 * (args.backlog + args.runs + 1) + slow_objects, n_obj
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(20)
            log.close()
            queue.close()
            led.close()
            s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
