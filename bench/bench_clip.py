"""The reveal clip and the reveal on screen.

- The clip (share/clips.py) for a 1536 px result: the child process the share server starts
  (`python -m share.clips`, import included), its wall time and the file's size. With
  `--quota 25` the child runs inside a cgroup v1 CPU quota of 25 % of one core (about a
  Raspberry Pi 4 core; needs root, the cgroup is removed after).
- The kiosk's frame time while the reveal plays (kiosk/ui/reveal.py): the result screen's whole
  draw, frame by frame through the reveal, at 1280×720 and 800×480; p50 and p99.

    .venv/bin/python bench/bench_clip.py [--runs 3] [--quota 25]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2

from bench.report import figure, median, pct
from booth import reveal
from worker.local_effect import LocalEffect

CGROUP = Path("/sys/fs/cgroup/cpu")


def pictures(folder: Path) -> tuple[Path, Path]:
    """A 1536×1152 shot (the AI copy's long side) and its local-effect result."""
    img = cv2.imread(str(ROOT / "tests" / "fixtures" / "portrait.jpg"))
    assert img is not None
    shot = cv2.resize(img, (1536, 1152))
    result = LocalEffect().apply(shot.copy()).image
    paths = folder / "shot.jpg", folder / "result.jpg"
    cv2.imwrite(str(paths[0]), shot, [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(paths[1]), result, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


def make_one(shot: Path, result: Path, out: Path, quota: int) -> tuple[float, dict]:
    """One clip through the child process, optionally inside a CPU quota; (wall s, report)."""
    cmd = [sys.executable, "-m", "share.clips", str(shot), str(result), str(out)]
    cmd += ["--title", "Anna & Ben · 24 Nov", "--keep-priority"]
    group = None
    if quota:
        group = CGROUP / f"booth-bench-clip-{os.getpid()}"
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(quota * 1000))
        shell = f'echo $$ > {group / "cgroup.procs"} && exec "$@"'
        cmd = ["sh", "-c", shell, "sh", *cmd]
    t0 = time.monotonic()
    try:
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    finally:
        if group is not None:
            for _ in range(50):  # the cgroup empties when the child is reaped
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
    took = time.monotonic() - t0
    if run.returncode != 0:
        raise SystemExit(f"clip failed: {run.stdout} {run.stderr}")
    return took, json.loads(run.stdout.strip().splitlines()[-1])


def bench_clip(runs: int, quota: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shot, result = pictures(Path(tmp))
        times, sizes, inner = [], [], []
        for i in range(runs):
            took, report = make_one(shot, result, Path(tmp) / f"clip{i}.mp4", quota)
            times.append(took)
            inner.append(report["seconds"])
            sizes.append(report["bytes"])
        where = f" (CPU quota {quota} % of one core)" if quota else " (this machine)"
        figure("clip: child process wall time" + where, median(times), "s", digits=2)
        figure("clip: of which compose + encode + write" + where, median(inner), "s", digits=2)
        figure("clip: file size, 1080x1920 3.6 s", median(sizes) / 1024, "KB", "≤ 3072 KB")


def bench_reveal(sizes: list[tuple[int, int]]) -> None:
    """The result screen's draw through the reveal, frame by frame, on a fake clock."""
    import pygame

    from booth.config import Config
    from kiosk.ui.app import KioskApp
    from tests.kiosk.gallery import Gallery, State, local_results

    def make_app(cfg: Config, size: tuple[int, int], **kw: Any) -> KioskApp:
        return KioskApp(cfg, size, gpio=False, operator_watch=False, **kw)

    pygame.init()
    with tempfile.TemporaryDirectory() as tmp:
        results = local_results(Path(tmp) / "results")
        for size in sizes:
            g = Gallery(Path(tmp) / f"{size[0]}", size, "en", results, make_app)
            try:
                app = g.apps["base"]

                def fresh(g: Gallery, app: object) -> None:
                    g.wall_t = time.time()
                    view = dataclasses.replace(
                        g.apps["base"].book.views["job-ready"],
                        job_id="job-fresh",
                        finished_at=g.wall_t,
                    )
                    g.apps["base"].book.views["job-fresh"] = view

                g.draw(State("reveal", "result", {"job_id": "job-fresh"}, before=fresh))
                while app.pictures.shot("job-fresh") is None:
                    time.sleep(0.02)
                    app.images.collect()
                screen = app.screen
                screen.draw(g.surface)
                still: list[float] = []
                for _ in range(120):  # the same screen holding its still, for comparison
                    t0 = time.perf_counter()
                    screen.draw(app.surface)
                    still.append((time.perf_counter() - t0) * 1000)
                frames: list[float] = []
                first: list[float] = []  # each reveal's first frame (scales the shot once)
                for _ in range(10):  # the reveal, ten times over, at 30 frames a second
                    screen.reveal._played.clear()
                    screen.reveal._job = ""  # as if the picture had just arrived again
                    start = g.clock()
                    t = 0.0
                    while t <= reveal.SCREEN.total_s + 0.1:
                        g.clock.t = start + t
                        t0 = time.perf_counter()
                        screen.draw(app.surface)
                        pygame.display.flip()
                        (frames if t > 0 else first).append((time.perf_counter() - t0) * 1000)
                        t += 1 / 30
                w, h = size
                figure(
                    f"kiosk {w}x{h}: the reveal's first frame, median",
                    median(first),
                    "ms",
                    digits=2,
                )
                figure(f"kiosk {w}x{h}: result frame, still, p99", pct(still, 99), "ms", digits=2)
                figure(
                    f"kiosk {w}x{h}: frame during the reveal, p50", median(frames), "ms", digits=2
                )
                figure(
                    f"kiosk {w}x{h}: frame during the reveal, p99", pct(frames, 99), "ms", digits=2
                )
            finally:
                g.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quota", type=int, default=0, help="CPU quota in %% of one core (root)")
    ap.add_argument("--no-kiosk", action="store_true")
    args = ap.parse_args()
    bench_clip(args.runs, 0)
    if args.quota:
        bench_clip(1, args.quota)
    if not args.no_kiosk:
        bench_reveal([(1280, 720), (800, 480)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
