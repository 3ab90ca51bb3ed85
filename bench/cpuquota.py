"""A Pi-class CPU quota for a benchmark: a cgroup that caps a process at a share of one core.

25 % of one core here is about one Raspberry Pi 4 core, 50 % about one Pi 5 core
(docs/benchmarks.md says how that was judged and what a quota cannot model). It needs root and
the cgroup cpu controller: cgroup v1 (`cpu.cfs_quota_us` over `cpu.cfs_period_us`) or v2
(`cpu.max`). A benchmark process joins the group itself (`join`), after starting whatever should
stay outside it (the broker, the fake worker); the driver makes the group and removes it
afterwards.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def available() -> str | None:
    """None when a quota can be set here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if (V1 / "cpu.cfs_quota_us").exists() or (V1 / "cgroup.procs").exists():
        return None
    if (V2 / "cgroup.controllers").exists() and "cpu" in (V2 / "cgroup.controllers").read_text():
        return None
    return "no cgroup cpu controller"


@contextmanager
def quota(percent: int, name: str) -> Iterator[Path]:
    """A cgroup capped at `percent` % of one core; removed on exit (its processes must have
    ended)."""
    if (V1 / "cgroup.procs").exists():
        group = V1 / f"{name}-{os.getpid()}"
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(PERIOD_US * percent // 100))
    else:
        subtree = V2 / "cgroup.subtree_control"
        if "cpu" not in subtree.read_text().split():
            subtree.write_text("+cpu")
        group = V2 / f"{name}-{os.getpid()}"
        group.mkdir()
        (group / "cpu.max").write_text(f"{PERIOD_US * percent // 100} {PERIOD_US}")
    try:
        yield group
    finally:
        group.rmdir()


def join(group: Path) -> None:
    """Put the calling thread into `group`; the threads it starts from now on are born there,
    the ones already running stay outside (cgroup v1 places threads one by one through
    `tasks`; on v2, where a process's threads share one group, the whole process moves)."""
    tasks = group / "tasks"
    if tasks.exists():
        tasks.write_text(str(threading.get_native_id()))
    else:
        (group / "cgroup.procs").write_text(str(os.getpid()))


def leave() -> None:
    """Take the calling thread out of its quota (v1 only: a bench's stand-in for another
    process, like the model's side feeding results, should not spend the kiosk's CPU)."""
    root = V1 / "tasks"
    if root.exists():
        root.write_text(str(threading.get_native_id()))


def throttled_s(group: Path) -> float:
    """How long the group has been held back by its quota so far (seconds)."""
    stat = group / "cpu.stat"
    if not stat.exists():
        return 0.0
    fields = dict(line.split() for line in stat.read_text().splitlines() if line.strip())
    if "throttled_time" in fields:  # v1, nanoseconds
        return int(fields["throttled_time"]) / 1e9
    return int(fields.get("throttled_usec", 0)) / 1e6
