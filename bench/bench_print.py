"""Printing: the print file, fifty prints through the real stack, the printer process's memory.

- The print file (printer/render.py): a 1536 x 1152 result with the kiosk's caption bar burned in
  (what a worker's picture becomes once stored) to a 4x6 in JPEG at 300 dpi, fit and fill,
  median; also inside a CPU quota of one Raspberry Pi 4 core (bench/cpuquota.py), where the
  machine allows one.
- Fifty prints: `booth printer` as its own process, a private mosquitto and cupsd, and
  ippeveprinter behind a driverless queue (tests/support/cups.py), fifty requests sent at once as
  fifty guests would: the time until the fiftieth sheet is out and recorded as printed, and the
  printer process's peak memory (VmHWM) and CPU time over the run.

    .venv/bin/python bench/bench_print.py [--runs 20] [--prints 50] [--quota 25]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpuquota
from bench.report import figure, median


def render_times(runs: int) -> dict[str, float]:
    """Median ms of the print file for fit and fill (this process, whatever group it is in)."""
    from booth.config import Config
    from kiosk.jobs.branding import Branding
    from printer.render import MEDIA, render
    from tests.printer.helpers import Photos  # the same stored picture the tests print

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config()
        cfg.data_dir = tmp
        cfg.kiosk.caption = "{title} · {date}"
        branding = Branding.from_config(cfg)
        assert branding is not None
        photos = Photos(cfg)
        path = Path(tmp) / "result.jpg"
        path.write_bytes(branding.apply(photos.result, time.time()))
        photos.close()
        out = {}
        for fit in ("fit", "fill"):
            render(path, MEDIA["4x6"], 300, fit, keep_bottom=True)  # warm
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                render(path, MEDIA["4x6"], 300, fit, keep_bottom=True)
                times.append((time.perf_counter() - t0) * 1000)
            out[fit] = median(times)
    return out


def bench_render(runs: int, quota: int) -> None:
    here = render_times(runs)
    for fit, ms in here.items():
        figure(
            f"print file, 1536 px result to 4x6 in at 300 dpi ({fit}), median",
            ms,
            "ms",
            "≤ 250 ms",
            ms <= 250,
            digits=0,
        )
    why = cpuquota.available()
    if not quota or why:
        print(f"  (no CPU quota run: {why or 'not asked'})")
        return
    with cpuquota.quota(quota, "booth-bench-print") as group:
        child = subprocess.run(
            [sys.executable, __file__, "--render-only", "--runs", str(runs)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            preexec_fn=lambda: cpuquota.join(group),
        )
        time.sleep(0.2)
    inside = json.loads(child.stdout.strip().splitlines()[-1])
    for fit, ms in inside.items():
        figure(
            f"print file (4x6, {fit}) in a {quota} % CPU quota (a Pi 4 core), median",
            ms,
            "ms",
            "≤ 1500 ms",
            ms <= 1500,
            digits=0,
        )


def peak_kib(pid: int) -> tuple[int, float]:
    """(VmHWM in KiB, CPU seconds) of a running process."""
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / ticks


def bench_prints(n: int) -> None:
    from jobstore.prints import PrintQueue
    from tests.printer.helpers import Photos, PrinterProcess, Watcher, make_config, print_toml
    from tests.support.cups import CupsRig
    from tests.support.mosquitto import Mosquitto

    with tempfile.TemporaryDirectory() as tmp:
        rig = CupsRig().start()
        broker = Mosquitto(Path(tmp) / "mq")
        broker.start()
        process = None
        try:
            cfg = make_config(Path(tmp), broker.url, print_toml(rig, copies=1, budget=0))
            photos, watcher = Photos(cfg), Watcher(cfg, "bench")
            jobs = [photos.add() for _ in range(n)]
            process = PrinterProcess(cfg, Path(tmp) / "booth.toml", Path(tmp) / "printer.log")
            process.start()
            end = time.monotonic() + 60
            while not watcher.online() and time.monotonic() < end:
                time.sleep(0.05)
            assert process.proc is not None
            idle_kib, _ = peak_kib(process.proc.pid)
            queue = PrintQueue(cfg.data_path / "ledger.sqlite")
            t0 = time.monotonic()
            for job in jobs:
                watcher.request(job)
            end = time.monotonic() + 900
            while time.monotonic() < end:
                done = sum(1 for j in jobs for r in queue.for_job(j) if r.state == "printed")
                if done >= n:
                    break
                time.sleep(0.1)
            took = time.monotonic() - t0
            hwm, cpu = peak_kib(process.proc.pid)
            out = len(rig.printed())
            queue.close()
            watcher.close()
            photos.close()
        finally:
            if process is not None:
                process.stop()
            broker.stop(kill=True)
            rig.close()
    figure(f"{n} prints through cupsd + ippeveprinter, all out and recorded", took, "s", digits=1)
    figure("prints a minute through the real stack (CUPS-bound)", n / took * 60, "/min", digits=0)
    figure(f"sheets out of the printer ({n} asked, each once)", out, "", f"= {n}", out == n, 0)
    figure("printer process peak memory (VmHWM)", hwm / 1024, "MB", "≤ 80 MB", hwm / 1024 <= 80)
    figure("printer process memory once up, before printing", idle_kib / 1024, "MB", digits=1)
    figure(f"printer process CPU for {n} prints", cpu, "s", digits=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--prints", type=int, default=50)
    ap.add_argument("--quota", type=int, default=25, help="CPU quota in %% of a core (0: none)")
    ap.add_argument("--render-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render_only:
        print(json.dumps(render_times(args.runs)))
        return 0
    bench_render(args.runs, args.quota)
    bench_prints(args.prints)
    return 0


if __name__ == "__main__":
    sys.exit(main())
