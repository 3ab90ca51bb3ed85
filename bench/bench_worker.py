"""Worker benchmark: per-job overhead, throughput by concurrency, local effect time, worker RSS.

Runs a private mosquitto, the fake Gemini server (fixed latency L, answering with the input
unchanged so it costs nearly nothing) and the worker as a real subprocess (`python -m appliance.cli
worker`); a kiosk stand-in in this process publishes 1536-px JPEG jobs and times each one from
publish to its `completed` status. Prints figures; not a test.

    .venv/bin/python bench/bench_worker.py            # everything (about 2 minutes)
    .venv/bin/python bench/bench_worker.py --quick    # fewer jobs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as paho

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import figure, median, pct
from bench.rig import booth_env, start_worker
from booth.protocol import JobMeta, Status, Topics, new_job_id
from tests.support.fake_gemini import FakeGemini, Reply
from tests.support.mosquitto import Mosquitto

BOOTH = "benchbooth"
# One worker id for every phase, each phase restarting it with other settings: a stopped worker
# keeps its shared subscription (worker/service.py), so a new id per phase would leave the old
# sessions taking their share of the jobs until the (absent) kiosk re-dispatched them.
WID = "bench-w"


class Kiosk:
    def __init__(self, port: int) -> None:
        self.topics = Topics("booth")
        self.done: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        self.online: set[str] = set()
        self._cond = threading.Condition()
        self.c = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id="bench-kiosk", protocol=paho.MQTTv5
        )
        self.c.on_connect = lambda c, u, f, r, p: c.subscribe(
            [(self.topics.booth_statuses(BOOTH), 1), (self.topics.all_worker_availability(), 1)]
        )
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()

    def _on_message(self, c, u, msg) -> None:
        now = time.perf_counter()
        if msg.topic.endswith("/availability"):
            with self._cond:
                (self.online.add if msg.payload == b"online" else self.online.discard)(
                    msg.topic.split("/")[2]
                )
                self._cond.notify_all()
            return
        if not msg.payload:
            return
        st = Status.from_json(msg.payload)
        if st.status.is_final:
            with self._cond:
                self.done.setdefault(st.job_id, now)
                self._cond.notify_all()

    def send(self, payload: bytes) -> str:
        job = new_job_id()
        self.sent[job] = time.perf_counter()
        self.c.publish(
            self.topics.jobs(BOOTH), payload, qos=1, properties=JobMeta(job, "drip").to_properties()
        )
        return job

    def wait(self, pred, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(pred, timeout)


def spawn_worker(
    tmp: Path, broker: Mosquitto, fake: FakeGemini, concurrency: int, wid: str, key: bool = True
) -> subprocess.Popen:
    conf = tmp / "booth.toml"
    conf.write_text(f'[worker]\nid = "{wid}"\ndeadline_s = 60\nconcurrency = {concurrency}\n')
    env = booth_env(tmp, broker, fake, conf, BOOTH)
    if not key:
        env.pop("GEMINI_API_KEY")
    return start_worker(env, "--log-level", "WARNING", quiet=False)


def stop(kiosk: Kiosk, proc: subprocess.Popen) -> None:
    """SIGTERM, and wait until the kiosk has seen the worker's `offline`."""
    proc.terminate()
    proc.wait(30)
    assert kiosk.wait(lambda: WID not in kiosk.online, 10), "no offline from the worker"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(args: argparse.Namespace) -> None:
    img = cv2.imread(str(ROOT / "tests" / "fixtures" / "portrait.jpg"))
    assert img is not None
    big = cv2.resize(img, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    payload = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    rss = 0.0
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        broker = Mosquitto(tmp / "mosq").start()
        fake = FakeGemini(latency=args.overhead_latency, default=Reply.image(mode="echo"))
        kiosk = Kiosk(broker.port)
        procs: list[subprocess.Popen] = []  # every worker started, stopped whatever happens
        try:
            # 1. overhead: one job at a time, total minus the model's latency
            proc = spawn_worker(tmp, broker, fake, 1, WID)
            procs.append(proc)
            assert kiosk.wait(lambda: WID in kiosk.online, 30), "worker not online"
            for _ in range(3):  # warm-up (imports, connection pool)
                j = kiosk.send(payload)
                kiosk.wait(lambda j=j: j in kiosk.done, 30)
            overheads = []
            for _ in range(args.jobs):
                j = kiosk.send(payload)
                assert kiosk.wait(lambda j=j: j in kiosk.done, 30), "job did not finish"
                overheads.append((kiosk.done[j] - kiosk.sent[j] - args.overhead_latency) * 1000)
            rss = max(rss, peak_rss_mb(proc.pid))
            stop(kiosk, proc)
            print(f"worker peak RSS at concurrency 1: {rss:.0f} MB")
            p50, p99 = pct(overheads, 50), pct(overheads, 99)
            print(
                f"overhead over {args.jobs} jobs at 1536 px (L = {args.overhead_latency:g} s): "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p50 <= 50 ms)"
            )
            figure("per-job overhead (total − L) at 1536 px, p50", p50, "ms", "≤ 50 ms", p50 <= 50)
            figure("per-job overhead (total − L) at 1536 px, p99", p99, "ms")

            # 2. throughput by concurrency with L = 2 s
            fake.latency = 2.0
            for n in (1, 2, 4, 8):
                proc = spawn_worker(tmp, broker, fake, n, WID)
                procs.append(proc)
                assert kiosk.wait(lambda: WID in kiosk.online, 30)
                count = n * args.rounds
                t0 = time.perf_counter()
                jobs = [kiosk.send(payload) for _ in range(count)]
                assert kiosk.wait(lambda jobs=jobs: all(j in kiosk.done for j in jobs), 120)
                elapsed = max(kiosk.done[j] for j in jobs) - t0
                rate = count / elapsed
                ideal = n / 2.0
                peak = peak_rss_mb(proc.pid)
                rss = max(rss, peak)
                stop(kiosk, proc)
                print(
                    f"throughput at concurrency {n}: {rate:.2f} jobs/s over {count} jobs "
                    f"= {rate / ideal:.2f} x N/L (target >= 0.90); worker peak RSS "
                    f"{peak:.0f} MB"
                )
                figure(
                    f"throughput at concurrency {n}, L = 2 s",
                    rate / ideal,
                    "× N/L",
                    "≥ 0.9 × N/L",
                    rate / ideal >= 0.9,
                    digits=2,
                )

            # 3. no API key: every job gets the local effect (the heaviest path for memory)
            proc = spawn_worker(tmp, broker, fake, 2, WID, key=False)
            procs.append(proc)
            assert kiosk.wait(lambda: WID in kiosk.online, 30)
            t0 = time.perf_counter()
            jobs = [kiosk.send(payload) for _ in range(args.rounds * 4)]
            assert kiosk.wait(lambda jobs=jobs: all(j in kiosk.done for j in jobs), 120)
            elapsed = max(kiosk.done[j] for j in jobs) - t0
            peak = peak_rss_mb(proc.pid)
            rss = max(rss, peak)
            proc.terminate()
            proc.wait(30)
            print(
                f"no API key (local effect), concurrency 2: {len(jobs) / elapsed:.1f} jobs/s "
                f"at 1536 px; worker peak RSS {peak:.0f} MB"
            )
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            kiosk.c.loop_stop()
            fake.close()
            broker.stop(kill=True)

    # 4. local effect per 1536-px image (in this process: cascades loaded once)
    from worker.local_effect import LocalEffect

    effect = LocalEffect()
    for name in ("portrait", "no-face"):
        src = cv2.imread(str(ROOT / "tests" / "fixtures" / f"{name}.jpg"))
        assert src is not None
        h, w = src.shape[:2]
        s = 1536 / max(h, w)
        im = cv2.resize(src, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)
        effect.apply(im)
        times = []
        for _ in range(args.effect_runs):
            t = time.perf_counter()
            effect.apply(im)
            times.append((time.perf_counter() - t) * 1000)
        med = median(times)
        print(
            f"local effect on {name} at {im.shape[1]}x{im.shape[0]}: median "
            f"{med:.0f} ms, max {max(times):.0f} ms (target <= 300 ms)"
        )
        figure(
            f"local effect, {name} at 1536 px (median)", med, "ms", "≤ 300 ms", med <= 300, digits=0
        )
    print(f"worker peak RSS: {rss:.0f} MB (target <= 200 MB)")
    figure("worker peak RSS", rss, "MB", "≤ 200 MB", rss <= 200, digits=0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer jobs and runs")
    p.add_argument(
        "--overhead-latency",
        type=float,
        default=0.5,
        help="fake model latency L in the overhead run (s)",
    )
    args = p.parse_args()
    args.jobs = 20 if args.quick else 50
    args.rounds = 2 if args.quick else 4
    args.effect_runs = 5 if args.quick else 20
    np.random.seed(0)
    run(args)


if __name__ == "__main__":
    main()
