"""Deploy figures (printed, never asserted): install.sh in a throwaway root (first and second
run), `booth doctor --offline`, and fleet mode over two real mosquittos on loopback: job → result
round trip through the bridge and the time to drain jobs queued while the link was down.

Run: .venv/bin/python bench/bench_deploy.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import figure
from tests.deploy.deploytools import (
    credentials,
    job_properties,
    run_install,
    wait_until,
)
from tests.deploy.test_bridge import (
    BOOTH,
    KIOSK_TOPICS,
    FakeWorker,
    completed,
    kiosk_client,
    start_fleet,
)
from tests.support.mosquitto import free_port

BOOTH_BIN = str(Path(sys.executable).with_name("booth"))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        root = tmp_path / "root"
        port = free_port()

        def install() -> None:
            run_install(root, "--booth-id", BOOTH, "--mqtt-port", str(port))

        rows.append(("install.sh --root, first run", f"{timed(install):.2f} s"))
        rows.append(("install.sh --root, second run (no changes)", f"{timed(install):.2f} s"))
        toml = tmp_path / "doctor.toml"
        toml.write_text(f'data_dir = "{tmp_path}/data"\n')
        doctor = [BOOTH_BIN, "--config", str(toml), "doctor", "--offline"]
        rows.append(
            (
                "booth doctor --offline (broker down)",
                f"{timed(lambda: subprocess.run(doctor, capture_output=True)):.2f} s",
            )
        )

        _u, worker_pw = credentials(root, "worker")
        central, booth = start_fleet(tmp_path, root, port, "bench-bridge", worker_pw)
        worker = FakeWorker(central.port, "worker", worker_pw)
        kiosk = kiosk_client(booth, root)
        kiosk.wait_connack()
        for topic in KIOSK_TOPICS:
            kiosk.subscribe(topic)
        wait_until(lambda: kiosk.on("booth/workers/+/availability"), 60)
        photo = (Path(__file__).resolve().parents[1] / "tests/fixtures/portrait.jpg").read_bytes()
        trips = []
        for i in range(20):
            job = f"benchjob{i:04d}"
            t = time.perf_counter()
            kiosk.publish("booth/b1/jobs", photo, props=job_properties(job))
            wait_until(lambda job=job: completed(kiosk, job), 60, interval=0.001)
            trips.append(time.perf_counter() - t)
        rows.append(
            (
                f"bridge round trip, {len(photo) // 1024} KB job → result (median of 20)",
                f"{statistics.median(trips) * 1000:.1f} ms",
            )
        )
        central.stop()
        jobs = [f"queued{i:04d}" for i in range(20)]
        for job in jobs:
            kiosk.publish("booth/b1/jobs", photo, props=job_properties(job))
        t = time.perf_counter()
        central.start()
        ok = wait_until(lambda: all(completed(kiosk, j) for j in jobs), 120, interval=0.01)
        rows.append(
            (
                "20 jobs queued while the link was down: central restart → all results",
                f"{time.perf_counter() - t:.2f} s" + ("" if ok else " (INCOMPLETE)"),
            )
        )
        kiosk.close()
        worker.close()
        booth.stop(kill=True)
        central.stop(kill=True)

    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    for name, value in rows:
        number, unit = value.split(" ", 1)
        figure(name, float(number), unit, digits=2 if unit.startswith("s") else 1)
    print(json.dumps(dict(rows)), file=sys.stderr)


if __name__ == "__main__":
    main()
