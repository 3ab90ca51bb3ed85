"""One line per figure that `bench/run_all.py` collects into one table (docs/benchmarks.md).

A benchmark calls `figure(name, value, unit, target)`; it prints a readable line and a
machine-readable `BENCH {json}` line.
"""

from __future__ import annotations

import json
import statistics


def figure(
    name: str, value: float, unit: str, target: str = "", ok: bool | None = None, digits: int = 1
) -> None:
    text = f"{value:.{digits}f} {unit}".strip()
    print(f"  {name}: {text}" + (f"  (target {target})" if target else ""), flush=True)
    print(
        "BENCH " + json.dumps({"figure": name, "value": text, "target": target, "ok": ok}),
        flush=True,
    )


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)
