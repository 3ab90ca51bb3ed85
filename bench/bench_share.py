"""Benchmark of the share server: 50 concurrent clients downloading a 1.5 MB result.

The server runs as a real `booth share` process; this script is the second process and drives
it over loopback with a small asyncio HTTP/1.1 client (keep-alive, body read and discarded).
Prints downloads/s, latency percentiles and the server's RSS, and the targets
(≥ 200 downloads/s, p99 ≤ 1 s, RSS ≤ 100 MB).

    .venv/bin/python bench/bench_share.py [--clients 50] [--seconds 20] [--size-mb 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import figure
from booth.protocol import Effect, JobStatus, Status, new_job_id
from jobstore.ledger import Ledger, ledger_path, photo_dir


def make_result(data_dir: Path, size_mb: float) -> tuple[str, int]:
    """A completed job whose result is a real JPEG of about `size_mb`; returns (token, size)."""
    rng = np.random.default_rng(7)
    target = int(size_mb * 1_000_000)
    lo, hi, best = 200, 4000, b""
    while hi - lo > 8:  # a real JPEG: find the height whose file is closest to the target
        h = (lo + hi) // 2
        noise = rng.integers(0, 255, (h, 1536, 3), dtype=np.uint8)
        ok, buf = cv2.imencode(
            ".jpg", cv2.GaussianBlur(noise, (3, 3), 0), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        best = buf.tobytes()
        if len(best) < target:
            lo = h
        else:
            hi = h
    now = time.time()
    folder = photo_dir(data_dir, now)
    folder.mkdir(parents=True, exist_ok=True)
    job = new_job_id()
    for name, data in (("original", best), ("ai", best), ("result", best)):
        (folder / f"{job}-{name}.jpg").write_bytes(data)

    def rel(n: str) -> str:
        return str((folder / f"{job}-{n}.jpg").relative_to(data_dir))

    led = Ledger(ledger_path(data_dir))
    led.insert_pending(
        job, "benchbooth", "drip", now, "2026-11-24T00:00:00Z", rel("original"), rel("ai")
    )
    led.apply_status(
        Status(job_id=job, booth_id="benchbooth", status=JobStatus.COMPLETED, effect=Effect.LOCAL)
    )
    token = led.store_result(job, rel("result"))
    led.close()
    assert token
    return token, len(best)


async def client(
    port: int, path: str, size: int, stop_at: float, lat: list[float], errors: list[str], n: int = 0
) -> None:
    # Each client is a phone of its own: its own loopback address (the server caps the
    # connections of one address, share.max_connections_per_address).
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(f"127.0.{1 + n // 250}.{2 + n % 250}", 0)
    )
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    try:
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            left = length
            while left:
                chunk = await reader.read(min(left, 1 << 20))
                if not chunk:
                    raise ConnectionError("server closed mid-body")
                left -= len(chunk)
            if status != 200 or length != size:
                errors.append(f"status {status} length {length}")
                continue
            lat.append(time.perf_counter() - t0)
    finally:
        writer.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    cur = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


async def run_load(port: int, path: str, size: int, clients: int, seconds: float, pid: int) -> dict:
    # warm-up: one pass per client, not measured
    warm: list[float] = []
    errs: list[str] = []
    await asyncio.gather(
        *(client(port, path, size, time.monotonic() + 1.0, warm, errs, n) for n in range(clients))
    )
    lat: list[float] = []
    errors: list[str] = []
    peak_rss = 0.0
    stop_at = time.monotonic() + seconds

    async def sample() -> None:
        nonlocal peak_rss
        while time.monotonic() < stop_at:
            peak_rss = max(peak_rss, rss_mb(pid)[0])
            await asyncio.sleep(0.2)

    t0 = time.monotonic()
    await asyncio.gather(
        sample(), *(client(port, path, size, stop_at, lat, errors, n) for n in range(clients))
    )
    elapsed = time.monotonic() - t0
    lat.sort()
    return {
        "downloads": len(lat),
        "elapsed": elapsed,
        "errors": len(errors) + len(errs),
        "rate": len(lat) / elapsed,
        "mbps": len(lat) * size / elapsed / 1e6,
        "p50": lat[len(lat) // 2] if lat else float("nan"),
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "mean": statistics.fmean(lat) if lat else float("nan"),
        "rss_peak": peak_rss,
        "rss_hwm": rss_mb(pid)[1],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size-mb", type=float, default=1.5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-share-") as tmp:
        data = Path(tmp) / "data"
        token, size = make_result(data, args.size_mb)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = Path(tmp) / "booth.toml"
        conf.write_text(f'[share]\nhost = "127.0.0.1"\nport = {port}\n')
        env = dict(
            os.environ,
            BOOTH_DATA_DIR=str(data),
            BOOTH_ID="benchbooth",
            BOOTH_MQTT_URL="mqtt://127.0.0.1:1",
            PYTHONPATH=str(ROOT),
        )
        env.pop("BOOTH_ADMIN_PASSWORD", None)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance.cli",
                "share",
                "--config",
                str(conf),
                "--no-mqtt",
                "--no-retention",
                "--log-level",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
        )
        try:
            end = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > end or server.poll() is not None:
                        print("server did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            idle_rss = rss_mb(server.pid)[0]
            r = asyncio.run(
                run_load(
                    port, f"/p/{token}/photo.jpg?dl=1", size, args.clients, args.seconds, server.pid
                )
            )
        finally:
            server.terminate()
            server.wait(20)

    ok = r["rate"] >= 200 and r["p99"] <= 1.0 and r["rss_peak"] <= 100 and r["errors"] == 0
    print(
        f"share server benchmark: {args.clients} clients, {size / 1e6:.2f} MB result, "
        f"{r['elapsed']:.1f} s, {os.cpu_count()} CPUs"
    )
    print("| metric | value | target |")
    print("|---|---|---|")
    print(f"| downloads/s | {r['rate']:.0f} | ≥ 200 |")
    print(f"| throughput | {r['mbps']:.0f} MB/s | |")
    print(f"| latency p50 | {r['p50'] * 1000:.0f} ms | |")
    print(f"| latency p99 | {r['p99'] * 1000:.0f} ms | ≤ 1000 ms |")
    print(
        f"| server RSS idle / peak under load | {idle_rss:.0f} / {r['rss_peak']:.0f} MB "
        f"(high-water {r['rss_hwm']:.0f} MB) | ≤ 100 MB |"
    )
    print(f"| errors | {r['errors']} of {r['downloads'] + r['errors']} | 0 |")
    print("RESULT:", "all targets met" if ok else "TARGET MISSED")
    figure(
        f"downloads/s, {args.clients} clients, {size / 1e6:.1f} MB",
        r["rate"],
        "/s",
        "≥ 200",
        r["rate"] >= 200,
        digits=0,
    )
    figure("download latency p99", r["p99"] * 1000, "ms", "≤ 1000 ms", r["p99"] <= 1.0, digits=0)
    figure(
        "share server RSS under load",
        r["rss_peak"],
        "MB",
        "≤ 100 MB",
        r["rss_peak"] <= 100,
        digits=0,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
