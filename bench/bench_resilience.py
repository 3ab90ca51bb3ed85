"""When things go wrong: shot → local picture during an AI outage, a cold `booth snap`, and the
worker's memory when the model answers with 100 MB.

1. Outage: the kiosk's capture pipeline (kiosk/jobs/controller.py, in this process) and the real
   `booth worker` process, the fake Gemini answering 503 "model overloaded" to every call.
   20 guests one second apart; each is timed from the shot (a JPEG handed to the pipeline) to
   the local picture stored with its download token. The first guest pays for the calls that
   open the breaker; the others get the local effect at once.
2. Cold snap: `booth snap PHOTO --json` on a fresh data dir with no broker, worker or download
   server running (it starts them itself), wall time of the whole command.
3. Worker RSS: the worker process's peak resident memory (VmHWM) after jobs whose answers are
   100 MB (one with a Content-Length, one chunked), next to a plain job as the baseline.

    .venv/bin/python bench/bench_resilience.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_worker import BOOTH, Kiosk, peak_rss_mb, spawn_worker
from bench.report import figure, median, pct
from booth.config import load_config
from tests.support.fake_gemini import FakeGemini, Reply
from tests.support.mosquitto import Mosquitto, free_port

PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"


def wait_online(kiosk: Kiosk, wid: str) -> None:
    assert kiosk.wait(lambda: wid in kiosk.online, 30), f"worker {wid} not online"


def outage(tmp: Path, guests: int) -> None:
    from kiosk.jobs.controller import JobController

    broker = Mosquitto(tmp / "mq-outage").start()
    fake = FakeGemini(default=Reply.real("overloaded"))
    probe = Kiosk(broker.port)
    worker = spawn_worker(tmp / "outage", broker, fake, 2, "bench-outage")
    ctl = None
    try:
        wait_online(probe, "bench-outage")
        conf = tmp / "outage" / "kiosk.toml"
        conf.write_text("")
        cfg = load_config(
            conf,
            env={
                "BOOTH_MQTT_URL": broker.url,
                "BOOTH_ID": BOOTH,
                "BOOTH_DATA_DIR": str(tmp / "outage" / "kiosk"),
            },
        )
        ctl = JobController(cfg).start()
        photo = PORTRAIT.read_bytes()
        waits = []
        for _ in range(guests):
            t0 = time.perf_counter()
            job = ctl.submit_jpeg(photo)
            view = ctl.wait_done(job, 60)
            assert view is not None and view.ready, view
            waits.append(time.perf_counter() - t0)  # the picture is there for the guest
            end = time.monotonic() + 5  # its final status follows the result
            while not view.status.is_final and time.monotonic() < end:
                time.sleep(0.02)
                view = ctl.view(job)
                assert view is not None, job
            assert view.effect == "local", view
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
        print(
            f"outage (503 on every call): {guests} guests a second apart, shot → local "
            f"picture: first {waits[0]:.2f} s, then median {median(waits[1:]):.2f} s; "
            f"{len(fake.requests)} model calls in all"
        )
        p50, p99 = pct(waits, 50), pct(waits, 99)
        figure(f"shot → local picture during an outage, p50 ({guests} guests)", p50, "s", digits=2)
        figure(
            f"shot → local picture during an outage, p99 ({guests} guests)",
            p99,
            "s",
            "≤ 20 s",
            p99 <= 20,
            digits=2,
        )
    finally:
        if ctl is not None:
            ctl.stop()
        worker.terminate()
        worker.wait(30)
        probe.c.loop_stop()
        fake.close()
        broker.stop(kill=True)


def cold_snap(tmp: Path, runs: int) -> None:
    times = []
    for i in range(runs):
        data = tmp / f"snap-{i}"
        conf = tmp / f"snap-{i}.toml"
        port = free_port()
        conf.write_text(
            f'[share]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "http://127.0.0.1:{port}"\n'
        )
        env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "BOOTH_CONFIG")}
        env.update(
            BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}",
            BOOTH_DATA_DIR=str(data),
            BOOTH_CONFIG=str(conf),
            BOOTH_ID=BOOTH,
        )
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "snap", str(PORTRAIT), "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        times.append(time.perf_counter() - t0)
        assert out.returncode == 0, out.stderr
    med = median(times)
    print(
        f"cold booth snap (fresh data dir, starts broker, worker and share): "
        f"{', '.join(f'{t:.2f}' for t in times)} s"
    )
    figure(f"cold booth snap, wall time (median of {runs})", med, "s", "≤ 5 s", med <= 5, digits=2)


def huge_answers(tmp: Path) -> None:
    broker = Mosquitto(tmp / "mq-huge").start()
    fake = FakeGemini(default=Reply.image())
    kiosk = Kiosk(broker.port)
    worker = spawn_worker(tmp / "huge", broker, fake, 2, "bench-huge")
    try:
        wait_online(kiosk, "bench-huge")
        photo = PORTRAIT.read_bytes()
        job = kiosk.send(photo)
        assert kiosk.wait(lambda: job in kiosk.done, 60)
        baseline = peak_rss_mb(worker.pid)
        fake.script(Reply.huge(100_000_000), Reply.huge(100_000_000, chunked=True))
        jobs = [kiosk.send(photo) for _ in range(2)]
        assert kiosk.wait(lambda: all(j in kiosk.done for j in jobs), 60)
        peak = peak_rss_mb(worker.pid)
        print(
            f"worker peak RSS: {baseline:.0f} MB after a plain job, {peak:.0f} MB after two "
            f"100 MB answers (cut off at gemini.max_response_bytes)"
        )
        figure(
            "worker peak RSS under a 100 MB response", peak, "MB", "≤ 200 MB", peak <= 200, digits=0
        )
    finally:
        worker.terminate()
        worker.wait(30)
        kiosk.c.loop_stop()
        fake.close()
        broker.stop(kill=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer snap runs")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for sub in ("outage", "huge"):
            (tmp / sub).mkdir()
        outage(tmp, 20)
        cold_snap(tmp, 1 if args.quick else 3)
        huge_answers(tmp)


if __name__ == "__main__":
    main()
