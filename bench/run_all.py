"""Run every benchmark and print one table (figure, value, target, machine) for docs/benchmarks.md.

Each `bench/bench_*.py` runs in its own process (they start brokers, servers and pygame) and
reports through `bench.report.figure`, whose `BENCH {json}` lines are collected here.

    .venv/bin/python bench/run_all.py [--only worker,share] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK_ARGS = {
    "bench_e2e.py": ["--jobs", "20"],
    "bench_share.py": ["--seconds", "5"],
    "bench_worker.py": ["--quick"],
    "bench_resilience.py": ["--quick"],
    "bench_kiosk.py": ["--seconds", "4", "--sizes", "1280x720"],
    "bench_cloud.py": ["--runs", "5", "--backlog", "50"],
    "bench_operator.py": ["--photos", "50"],
    "bench_strip.py": ["--runs", "3", "--rounds", "1"],
}


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()}-core {platform.machine()}, {mem_gb:.0f} GB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated names, e.g. worker,share")
    ap.add_argument("--quick", action="store_true", help="shorter runs (less precise)")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{n.strip()}.py" for n in args.only.split(",")}
        scripts = [s for s in scripts if s.name in wanted]
    rows: list[dict] = []
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.monotonic()
        extra = QUICK_ARGS.get(script.name, []) if args.quick else []
        proc = subprocess.run(
            [sys.executable, str(script), *extra],
            capture_output=True,
            text=True,
            cwd=str(HERE.parent),
            timeout=1800,
        )
        print(proc.stdout.rstrip())
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stderr[-2000:], file=sys.stderr)
        found = [
            json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")
        ]
        for r in found:
            r["bench"] = script.stem.removeprefix("bench_")
        rows.extend(found)
        print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
    where = machine()
    print(f"\nResults of {date.today().isoformat()} on {where}:\n")
    print("| part | figure | value | target | met |")
    print("|---|---|---|---|---|")
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.get("ok")]
        print(f"| {r['bench']} | {r['figure']} | {r['value']} | {r['target']} | {met} |")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
