"""Soak: jobs through `booth up --headless` with a fake model taking 0–1 s per answer.

`make test` runs 150 jobs, `make soak` 500 (BOOTH_SOAK_JOBS; docs/benchmarks.md has the
figures). Either way: 0 lost, `booth up` ends cleanly, and no process leaks: its floor (least RSS
and open file descriptors over 25 jobs) after the warm-up (job 50 of 150, job 100 of 500) and
at the end differ by less than 10 % of RSS and at most 2 descriptors. The short run still
catches a descriptor kept per job (+75 over the 75 jobs between the windows), a job lost or
stuck under sustained load, and memory kept per job from 10 % of a process's RSS over 75 jobs:
about 125 KB in the share server, 165 KB in the worker, 190 KB in the kiosk (a photo or a
result held per job). Checked: with 256 KB and a descriptor kept per result in the kiosk, the
kiosk's floor went from 142.9 to 161.2 MB and 68 to 141 descriptors, and the test failed. The
full run measures 375 jobs, so it sees a fifth of that, and is the one that shows whether RSS
levels off. Throughput and latency live in bench/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.e2e.rig import BOOTH, ROOT, Rig
from tests.support.fake_gemini import FakeGemini, Reply

JOBS = int(os.environ.get("BOOTH_SOAK_JOBS", "150"))
WARMUP = min(100, JOBS // 3)  # the first jobs fill caches, pools and the allocator's arenas
ROLES = ("worker", "share", "kiosk", "up", "mosquitto")
EVERY = 25  # jobs between two rows of the report
WINDOW = 25  # jobs over which a process's least RSS and fds are taken
OUTPUT = ROOT / "tests" / "output"  # soak-<jobs>.txt: the report, for docs/benchmarks.md


def role_of(argv: list[str]) -> str | None:
    """A child of `booth up` by the command it runs (`python -m appliance.cli ROLE …`); not by
    a word anywhere in its command line: the share server's short-lived helpers
    (`python -m share.clips …`) say "share" too."""
    if "appliance.cli" in argv[:-1]:
        role = argv[argv.index("appliance.cli") + 1]
        return role if role in ("worker", "share", "kiosk") else None
    return None


def snapshot(up: psutil.Process, broker: psutil.Process) -> dict[str, tuple[int, int]]:
    """(RSS bytes, open fds) of every process `booth up` runs, by role, and of the broker."""
    out = {"mosquitto": (broker.memory_info().rss, broker.num_fds())}
    for child in up.children(recursive=True):
        try:
            role = role_of(child.cmdline())
            if role:
                out[role] = (child.memory_info().rss, child.num_fds())
        except psutil.Error:
            continue
    out["up"] = (up.memory_info().rss, up.num_fds())
    return out


def report(rows: list[tuple[int, float, dict[str, tuple[int, int]]]]) -> str:
    """RSS (MB) and open fds of each role every EVERY jobs, with the time since the start."""
    head = f"{'jobs':>5} {'s':>6} " + " ".join(f"{r + ' MB':>12} {'fds':>4}" for r in ROLES)
    lines = [head]
    for done, t, snap in rows:
        cells = []
        for role in ROLES:
            rss, fds = snap.get(role, (0, 0))
            cells.append(f"{rss / 1e6:12.1f} {fds:4}")
        lines.append(f"{done:5} {t:6.1f} " + " ".join(cells))
    return "\n".join(lines)


@pytest.mark.slow
def test_soak(tmp_path, broker):
    fake = FakeGemini(latency=(0.0, 1.0), default=Reply.image(mode="echo"))
    rig = Rig(tmp_path, broker, gemini_url=fake.url)
    # more worker slots than the default: the kiosk shoots faster than one model answer
    rig.config.write_text(rig.config.read_text().replace("concurrency = 2", "concurrency = 4"))
    log = rig.logs / "up.log"
    started = time.monotonic()
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
    samples: list[tuple[int, float, dict[str, tuple[int, int]]]] = []  # (jobs done, s, snapshot)
    try:

        def done() -> int:
            return sum(
                1
                for j in rig.jobs()
                if j["status"] in ("completed", "failed")
                and (j["result_path"] or j["status"] == "failed")
            )

        # the whole run may take at most 2 s a job (it takes about 0.6 s here)
        deadline = time.monotonic() + 120 + 2 * JOBS
        # sampled until the last 2 jobs: `booth up` ends soon after the last result
        while True:
            running = up.poll() is None
            finished = done()
            if finished >= JOBS - 2:
                break
            assert running, f"booth up ended after {finished} jobs\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{finished} done\n" + log.read_text()[-3000:]
            samples.append((finished, time.monotonic() - started, snapshot(proc, mq)))
            time.sleep(0.5)
        code = up.wait(120)  # the kiosk stops after its shots; `up` then stops the rest
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            up.wait(60)
        fake.close()
    elapsed = time.monotonic() - started
    assert code == 0
    # Each process's floor (its least RSS and fds over WINDOW jobs) right after the warm-up and
    # at the end: a photo in flight lifts the kiosk's RSS by up to 25 MB for a moment (150 to
    # 175 MB in a 500-job run), a leak lifts the floor.
    warm = [snap for n, _, snap in samples if WARMUP <= n < WARMUP + WINDOW]
    last = [snap for n, _, snap in samples if n >= JOBS - 2 - WINDOW]
    floors = {}
    for role in ROLES:
        assert all(role in snap for snap in warm + last), (role, warm, last)
        floors[role] = [
            min(snap[role][i] for snap in part) for part in (warm, last) for i in (0, 1)
        ]
    rows = [next(s for s in samples if s[0] >= k) for k in range(0, samples[-1][0] + 1, EVERY)]
    table = "\n".join(
        [
            f"{JOBS} jobs in {elapsed:.0f} s ({JOBS / elapsed:.2f} a second)",
            report(rows),
            f"floor (least over {WINDOW} jobs) after job {WARMUP} -> at the end:",
            *(
                f"  {role}: {r1 / 1e6:.1f} -> {r2 / 1e6:.1f} MB, {f1} -> {f2} fds"
                for role, (r1, f1, r2, f2) in floors.items()
            ),
        ]
    )
    print("\n" + table)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"soak-{JOBS}.txt").write_text(table + "\n")
    for role, (r1, f1, r2, f2) in floors.items():
        assert r2 < r1 * 1.10, f"{role} RSS floor grew from {r1} to {r2}"
        assert f2 <= f1 + 2, f"{role} open fds floor grew from {f1} to {f2}"
    jobs = rig.jobs()
    assert len(jobs) == JOBS
    rig.share()
    finished_jobs = rig.check_nothing_lost()
    assert sum(j["status"] == "completed" for j in finished_jobs) == JOBS
    rig.close()
