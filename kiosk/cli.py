"""`booth kiosk`: the fullscreen capture screen (or a window, or headless auto-shooting)."""

from __future__ import annotations

import argparse
import logging
import os
import signal

from booth.config import Config
from booth.qr import qr_terminal
from booth.runlock import run_locked
from jobstore.links import qr_link

log = logging.getLogger("kiosk")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--windowed",
        action="store_true",
        help="run in a window (kiosk.window_width × window_height), not fullscreen",
    )
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 800x480 (implies --windowed)")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no screen: file camera, a shot every --interval seconds, URLs printed",
    )
    p.add_argument("--folder", metavar="DIR", help="photos for the file camera (implies it)")
    p.add_argument(
        "--interval",
        "--auto-shoot-interval",
        dest="interval",
        type=float,
        default=0.0,
        help="take a shot automatically every N seconds on the start "
        "screen (default: only in --headless, every 10 s)",
    )
    p.add_argument(
        "--shots",
        type=int,
        default=0,
        help="stop after this many shots have finished (default: run until stopped)",
    )
    p.add_argument(
        "--local-only",
        action="store_true",
        help="say on screen from the start that photos get the local effect (no AI "
        "key); `booth up` passes it when GEMINI_API_KEY is not set",
    )
    p.add_argument(
        "--control-dir",
        metavar="DIR",
        help="automation hook: a file DIR/shoot triggers a shot (its text picks the "
        "style); DIR/state.json tells the current screen",
    )


def tame_malloc(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas: every thread that frees big numpy buffers (camera, encoders,
    image pool) otherwise keeps its own arena of freed memory, and RSS creeps up over an event
    (measured: 251 → 224 MB at 1920×1080, no CPU cost). Call before threads start; no-op off
    glibc."""
    try:
        import ctypes

        M_ARENA_MAX = -8
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"booth kiosk: --size must look like 800x480, got {text!r}") from None
    if w < 320 or h < 240:
        raise SystemExit("booth kiosk: --size must be at least 320x240")
    return w, h


def run(cfg: Config, args: argparse.Namespace) -> int:
    # One kiosk per data dir (its ledger and camera): a second one says who holds it.
    return run_locked(cfg.data_dir, "kiosk", lambda: _run(cfg, args), log)


def _run(cfg: Config, args: argparse.Namespace) -> int:
    headless = bool(getattr(args, "headless", False))
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        cfg.camera.backend = "file"
    if getattr(args, "folder", None):
        cfg.camera.backend = "file"
        cfg.camera.folder = args.folder
    size = _size(getattr(args, "size", None))
    windowed = (
        headless
        or bool(getattr(args, "windowed", False))
        or cfg.kiosk.windowed
        or size is not None
        or os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen")
    )
    interval = getattr(args, "interval", 0.0) or (10.0 if headless else 0.0)

    tame_malloc()  # before any thread exists
    from kiosk.ui.app import KioskApp

    def done(job) -> None:
        if job.ready:
            print(f"photo ready: {job.result_path}  download: {job.share_url}", flush=True)
            if headless:
                print(qr_terminal(qr_link(job.share_url)), flush=True)
        else:
            kind = job.error.kind.value if job.error else "unknown"
            print(f"photo failed ({kind}): {job.job_id}", flush=True)

    app = KioskApp(
        cfg,
        size or (cfg.kiosk.window_width, cfg.kiosk.window_height),
        fullscreen=not windowed,
        on_job_done=done,
        control_dir=getattr(args, "control_dir", None),
        auto_shoot_interval=interval,
        max_shots=getattr(args, "shots", 0) or 0,
    )

    def on_term(signum, _frame) -> None:
        log.info("signal %d: stopping", signum)
        app.running = False

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info(
        "kiosk up: %dx%d, %s",
        app.layout.w,
        app.layout.h,
        "headless" if headless else ("windowed" if windowed else "fullscreen"),
    )
    if getattr(args, "local_only", False):
        app.jobs.inbox.local_only = True  # `booth up` has already said so in the log
    return app.run()
