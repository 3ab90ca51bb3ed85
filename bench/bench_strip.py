"""Strip sessions: composing the sheet, and a session's end-to-end time against one photo's.

- Compose (kiosk/jobs/compose.py, on the kiosk's compose thread): four 1536×1152 results as the
  kiosk stores them (the local effect, a caption bar burned in) and their shots into a 2x6 strip
  (600×1800) and a 2x2 grid (1800×1200), both pictures encoded; median of `--runs`. With
  `--quota 25` the same again in a child process inside a cgroup v1 CPU quota of 25 % of one
  core (about a Raspberry Pi 4 core; needs root; the cgroup is removed after).
- The strip clip (share/clips.py, the share process's child at idle priority): the sheet
  revealed frame by frame, wall time and size.
- End to end through the real pipeline: the kiosk's job side, a real mosquitto, the real
  `booth worker` process (concurrency 4) with the real google-genai SDK against a fake Gemini
  that answers after `--latency` seconds. One photo: shot → picture stored. A strip of four:
  shot 1 → sheet stored, and last shot → sheet stored, with the shots `--spacing` seconds apart
  (the screen's countdown, flash and pause: 3 + 0.45 + 2 s by default) and with no spacing.

    .venv/bin/python bench/bench_strip.py [--runs 5] [--quota 25] [--latency 4] [--rounds 3]
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

import cv2
import numpy as np

from bench.report import figure, median
from bench.rig import booth_env, start_worker
from booth.config import Config, load_config
from booth.sheet import GRID, STRIP, layout
from kiosk.jobs.branding import Branding
from kiosk.jobs.compose import FrameFiles, SheetBrand, compose

CGROUP = Path("/sys/fs/cgroup/cpu")
SPACING_S = 3 + 0.45 + 2.0  # kiosk.countdown_s, the flash, strip.pause_s (the defaults)


def frames(folder: Path) -> list[FrameFiles]:
    """Four shots (1536×1152, the AI copy's size) and their results as the kiosk stores them:
    the local effect with a caption bar burned in."""
    from worker.local_effect import LocalEffect

    img = cv2.imread(str(ROOT / "tests" / "fixtures" / "portrait.jpg"))
    assert img is not None
    cfg = Config()
    cfg.kiosk.caption = "{title} · {date}"
    branding = Branding.from_config(cfg)
    assert branding is not None
    out = []
    for i in range(4):
        shot = cv2.resize(cv2.flip(img, 1) if i % 2 else img, (1536, 1152))
        result = LocalEffect().apply(shot.copy()).image
        ok, buf = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        paths = folder / f"shot-{i}.jpg", folder / f"result-{i}.jpg"
        cv2.imwrite(str(paths[0]), shot, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths[1].write_bytes(branding.apply(buf.tobytes(), time.time()))
        out.append(FrameFiles(paths[0], paths[1]))
    return out


def compose_times(folder: Path, runs: int) -> dict[str, float]:
    """Median seconds to compose both pictures of a 4-frame strip and grid."""
    files = frames(folder)
    cfg = Config()
    cfg.kiosk.caption = "{title} · {date}"
    brand = SheetBrand.from_config(cfg, time.time())
    out = {}
    for kind in (STRIP, GRID):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            made = compose(kind, files, False, brand)
            times.append(time.perf_counter() - t0)
        sheet = cv2.imdecode(np.frombuffer(made.sheet, np.uint8), cv2.IMREAD_COLOR)
        assert sheet is not None and (sheet.shape[1], sheet.shape[0]) == layout(kind, 4).size
        out[kind] = median(times)
        (folder / f"{kind}.jpg").write_bytes(made.sheet)
        (folder / f"{kind}-shots.jpg").write_bytes(made.shots)
        out[f"{kind}_bytes"] = float(len(made.sheet))
    return out


def run_in_quota(percent: int, cmd: list[str]) -> str:
    """`cmd` in a child inside a cgroup v1 CPU quota of `percent` % of one core (0: none);
    its standard output."""
    if not percent:
        return subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    group = CGROUP / f"booth-bench-strip-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(1000 * percent))
        child = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
        )
        out, _ = child.communicate(timeout=900)
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, cmd)
    finally:
        time.sleep(0.2)
        group.rmdir()
    return out


def in_quota(percent: int, argv: list[str]) -> dict[str, float]:
    """This script's compose part in a child inside a CPU quota."""
    out = run_in_quota(percent, [sys.executable, __file__, "--compose-only", *argv])
    return json.loads(out.strip().splitlines()[-1])


def strip_clip(folder: Path, percent: int = 0) -> tuple[float, int]:
    """The sheet's clip through the share process's child (in a CPU quota with `percent`):
    (wall s, bytes)."""
    lay = layout(STRIP, 4)
    sw, sh = lay.size
    cells = ";".join(
        f"{c.x / sw:.5f},{c.y / sh:.5f},{c.w / sw:.5f},{c.h / sh:.5f}" for c in lay.cells
    )
    out = folder / "strip.mp4"
    cmd = [sys.executable, "-m", "share.clips", str(folder / "strip-shots.jpg")]
    cmd += [str(folder / "strip.jpg"), str(out), "--title", "Anna & Ben", "--cells", cells]
    t0 = time.perf_counter()
    run_in_quota(percent, cmd + ["--keep-priority"])
    return time.perf_counter() - t0, out.stat().st_size


def end_to_end(latency: float, rounds: int, spacing: float) -> dict[str, list[float]]:
    """Seconds a guest waits: one photo, and a strip of four (first and last shot → sheet)."""
    from kiosk.jobs.controller import JobController
    from tests.support.fake_gemini import FakeGemini, Reply
    from tests.support.mosquitto import Mosquitto

    still = cv2.imread(str(ROOT / "tests" / "fixtures" / "portrait.jpg"))
    assert still is not None
    out: dict[str, list[float]] = {"single": [], "strip_first": [], "strip_last": [], "burst": []}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        broker = Mosquitto(tmp / "mq").start()
        fake = FakeGemini(latency=latency, default=Reply.image())
        conf = tmp / "booth.toml"
        conf.write_text('[kiosk]\nmode = "strip"\n[worker]\nconcurrency = 4\n[strip]\nshots = 4\n')
        env = booth_env(tmp, broker, fake, conf)
        worker = start_worker(env, "--id", "wstrip")
        ctl = JobController(load_config(conf, env=env)).start()
        try:
            end = time.monotonic() + 60
            while ctl.ai_online is not True and time.monotonic() < end:
                time.sleep(0.05)

            def shot() -> str:
                return ctl.submit_capture(lambda: still, "drip", (1280, 720))

            for _ in range(rounds):
                t0 = time.monotonic()
                view = ctl.wait_done(shot(), 120)
                assert view is not None and view.ready
                out["single"].append(time.monotonic() - t0)
                for key, gap in (("strip", spacing), ("burst", 0.0)):
                    sid = ctl.sessions.begin("drip")
                    t0 = time.monotonic()
                    for n in range(1, 5):
                        if n > 1:
                            time.sleep(gap)
                        last = time.monotonic()
                        ctl.sessions.take(sid, n)
                        shot()
                    sheet = ctl.wait_done(sid, 180)
                    assert sheet is not None and sheet.ready
                    done = time.monotonic()
                    if key == "strip":
                        out["strip_first"].append(done - t0)
                        out["strip_last"].append(done - last)
                    else:
                        out["burst"].append(done - t0)
        finally:
            ctl.stop()
            worker.terminate()
            worker.wait(20)
            fake.close()
            broker.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quota", type=int, default=0, help="also in a CPU quota of N %% of a core")
    ap.add_argument("--latency", type=float, default=4.0, help="the model's answer, seconds")
    ap.add_argument("--rounds", type=int, default=3, help="end-to-end rounds")
    ap.add_argument("--spacing", type=float, default=SPACING_S, help="seconds between shots")
    ap.add_argument("--compose-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        times = compose_times(tmp, args.runs)
        if args.compose_only:
            print(json.dumps(times))
            return 0
        print("composing a sheet of four frames (both pictures), here:")
        figure("strip 600x1800, compose", times[STRIP] * 1000, "ms", digits=0)
        figure("grid 1800x1200, compose", times[GRID] * 1000, "ms", digits=0)
        figure("strip sheet size", times["strip_bytes"] / 1024, "KB", digits=0)
        if args.quota:
            q = in_quota(args.quota, ["--runs", str(args.runs)])
            print(f"the same in a CPU quota of {args.quota} % of one core:")
            figure(f"strip, compose ({args.quota} % quota)", q[STRIP] * 1000, "ms", digits=0)
            figure(f"grid, compose ({args.quota} % quota)", q[GRID] * 1000, "ms", digits=0)
        try:
            took, size = strip_clip(tmp)
            print("the strip clip (four frames revealed one by one, 1080x1920):")
            figure("strip clip, make", took, "s", digits=1)
            figure("strip clip, size", size / 1024 / 1024, "MB", "≤ 3 MB", size <= 3 * 2**20, 2)
            if args.quota:
                took, _size = strip_clip(tmp, args.quota)
                figure(f"strip clip, make ({args.quota} % quota)", took, "s", digits=1)
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"strip clip: not made here ({exc})")
    e2e = end_to_end(args.latency, args.rounds, args.spacing)
    print(
        f"end to end, model answering after {args.latency:g} s, worker concurrency 4, "
        f"{args.rounds} rounds (median):"
    )
    figure("one photo: shot → picture", median(e2e["single"]), "s", digits=2)
    figure(
        f"strip of 4, shots {args.spacing:g} s apart: shot 1 → sheet",
        median(e2e["strip_first"]),
        "s",
        digits=2,
    )
    figure("strip of 4: last shot → sheet", median(e2e["strip_last"]), "s", digits=2)
    figure("strip of 4, shots at once: → sheet", median(e2e["burst"]), "s", digits=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
