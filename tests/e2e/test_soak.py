"""Soak: 500 jobs through `booth up --headless` with a fake model taking 0–1 s per answer.

0 lost; every process's RSS between job 100 and job 500 grows < 10 %; open file descriptors do
not grow. (Throughput and latency figures live in bench/, not here.)
"""

from __future__ import annotations

import signal
import subprocess

import psutil
import pytest

from tests.e2e.rig import BOOTH, ROOT, Rig, wait_until
from tests.support.fake_gemini import FakeGemini, Reply

JOBS = 500


def snapshot(up: psutil.Process, broker: psutil.Process) -> dict[str, tuple[int, int]]:
    """(RSS bytes, open fds) of every process under `booth up`, by role, and of the broker."""
    out = {"mosquitto": (broker.memory_info().rss, broker.num_fds())}
    for child in up.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
            role = next((r for r in ("worker", "share", "kiosk", "mosquitto") if r in cmd), None)
            if role:
                out[role] = (child.memory_info().rss, child.num_fds())
        except psutil.Error:
            continue
    out["up"] = (up.memory_info().rss, up.num_fds())
    return out


@pytest.mark.slow
def test_soak_500_jobs(tmp_path, broker):
    fake = FakeGemini(latency=(0.0, 1.0), default=Reply.image(mode="echo"))
    rig = Rig(tmp_path, broker, gemini_url=fake.url)
    # more worker slots than the default: the kiosk shoots faster than one model answer
    rig.config.write_text(rig.config.read_text().replace("concurrency = 2", "concurrency = 4"))
    log = rig.logs / "up.log"
    with open(log, "wb") as fh:
        up = subprocess.Popen(
            BOOTH + ["up", "--headless", "--interval", "0.25", "--shots", str(JOBS)],
            env=rig.env,
            cwd=str(ROOT),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = psutil.Process(up.pid)
    mq = psutil.Process(broker.proc.pid)  # the configured broker `booth up` found running
    try:

        def done() -> int:
            return sum(
                1
                for j in rig.jobs()
                if j["status"] in ("completed", "failed")
                and (j["result_path"] or j["status"] == "failed")
            )

        wait_until(lambda: done() >= 100, 300, lambda: log.read_text()[-3000:])
        at_100 = snapshot(proc, mq)
        wait_until(
            lambda: done() >= JOBS - 2,
            900,
            lambda: f"{done()} done\n" + log.read_text()[-3000:],
            interval=0.5,
        )
        at_500 = snapshot(proc, mq)
        code = up.wait(120)  # the kiosk stops after its shots; `up` then stops the rest
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(60)
        fake.close()
    assert code == 0
    print("\nrole      RSS@100   RSS@500   fds@100 fds@500")
    for role in sorted(at_100):
        if role in at_500:
            (r1, f1), (r2, f2) = at_100[role], at_500[role]
            print(f"{role:9} {r1 / 1e6:7.1f}MB {r2 / 1e6:7.1f}MB {f1:7} {f2:7}")
    for role in ("worker", "share", "kiosk", "up", "mosquitto"):
        assert role in at_100 and role in at_500, (at_100, at_500)
        (r1, f1), (r2, f2) = at_100[role], at_500[role]
        assert r2 < r1 * 1.10, f"{role} RSS grew from {r1} to {r2}"
        assert f2 <= f1 + 2, f"{role} open fds grew from {f1} to {f2}"
    jobs = rig.jobs()
    assert len(jobs) == JOBS
    rig.share()
    finished = rig.check_nothing_lost()
    assert sum(j["status"] == "completed" for j in finished) == JOBS
    rig.close()
