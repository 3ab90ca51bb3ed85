"""`booth up`: the whole booth on one machine (a laptop, or a Pi without the systemd units).

Uses the configured broker or starts a private mosquitto, then runs the worker, the share server,
the printer process (with `[print]` on) and the kiosk as child processes, restarts any that
dies, and stops them all on Ctrl-C, SIGTERM or SIGHUP (a closed terminal); if it is killed
outright its children follow it (see
appliance/services.py). One booth per data dir: a second `booth up`, or one beside a kiosk or
share server already running on the data dir, refuses with who holds it.
Without a display it says so and runs the kiosk headless on the file camera; the kiosk prints
each result's LAN link, and with [cloud] on this process prints its cloud link once the upload
is confirmed.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.services import Supervisor, booth_argv, child_env, ensure_broker, usable_data_dir
from booth.config import Config
from booth.runlock import EXIT_ALREADY_RUNNING, AlreadyRunning, RunLock, holder

if TYPE_CHECKING:
    from jobstore.uploads import Uploads

log = logging.getLogger("appliance.up")
CLOUD_POLL_S = 1.0  # headless, [cloud]: how often confirmed uploads are looked for
FINAL_UPLOAD_WAIT_S = 60.0  # --shots, [cloud]: how long the run waits for its last uploads


class CloudLinkPrinter:
    """Headless with [cloud]: prints each result's cloud link (and its QR) once the share
    process confirmed the upload — the link the result screen switches to. The kiosk prints
    the LAN link when the result is stored (kiosk/cli.py)."""

    def __init__(self, data_dir: Path) -> None:
        from jobstore.ledger import ledger_path

        self.path = ledger_path(data_dir)
        self.since = time.time()
        self.seen: set[str] = set()
        self.uploads: Uploads | None = None
        self._next = 0.0

    def poll(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + CLOUD_POLL_S
        from booth.qr import qr_terminal
        from jobstore.uploads import Uploads

        try:
            if self.uploads is None:
                if not self.path.exists():
                    return  # the kiosk or the share server creates it
                self.uploads = Uploads(self.path)
            confirmed = self.uploads.confirmed_since(self.since)
        except sqlite3.Error as exc:  # created or upgraded by a child just now: next time
            log.debug("cloud links: %s", exc)
            return
        for job_id, link in confirmed:
            if job_id in self.seen:
                continue
            self.seen.add(job_id)
            until = (
                time.strftime(", until %Y-%m-%d %H:%M", time.localtime(link.expires_at))
                if link.expires_at
                else ""
            )
            print(f"cloud link: {link.url}  (job {job_id}: any network{until})", flush=True)
            print(qr_terminal(link.url), flush=True)

    def wait_for_all(self, wait_s: float) -> None:
        """Before a finite run stops the share server: until every result of this run has its
        cloud link (printed), at most `wait_s`."""
        end = time.monotonic() + wait_s
        left = -1
        while time.monotonic() < end:
            try:
                left = self.uploads.unconfirmed_since(self.since) if self.uploads else -1
            except sqlite3.Error:
                left = -1
            # counted first, then printed: a link confirmed between the two is printed too
            self._next = 0.0
            self.poll()
            if left == 0:
                return
            time.sleep(0.25)
        log.warning(
            "%s not uploaded within %g s; queued photos go up when `booth share` runs again",
            f"{left} photo(s)" if left > 0 else "the photos",
            wait_s,
        )

    def close(self) -> None:
        if self.uploads is not None:
            self.uploads.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: file camera, a shot every --interval seconds, URLs printed",
    )
    p.add_argument(
        "--folder",
        metavar="DIR",
        help="use the file camera on the photos in DIR (a demo without a camera; "
        "headless: default the bundled samples)",
    )
    p.add_argument(
        "--interval", type=float, default=10.0, help="seconds between headless shots (default 10)"
    )
    p.add_argument(
        "--shots",
        type=int,
        default=0,
        help="headless: stop after this many shots, in strip mode sessions, each once its "
        "sheet is stored (default: run until stopped)",
    )
    p.add_argument("--windowed", action="store_true", help="kiosk in a window, not fullscreen")
    p.add_argument("--no-kiosk", action="store_true", help="run only broker, worker and share")


def display_available(env: dict[str, str]) -> bool:
    """Can SDL open a screen here: an X/Wayland session, an explicit driver, or a DRM device."""
    if env.get("SDL_VIDEODRIVER") and env["SDL_VIDEODRIVER"] not in ("dummy", "offscreen"):
        return True
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return True
    return any(Path("/dev/dri").glob("card*")) if Path("/dev/dri").is_dir() else False


def run(cfg: Config, args: argparse.Namespace) -> int:
    data_dir = usable_data_dir(cfg)
    try:
        lock = RunLock(data_dir, "up").acquire()
    except AlreadyRunning as exc:
        log.error("booth up: %s", exc)
        return EXIT_ALREADY_RUNNING
    try:
        roles = ["share"] if args.no_kiosk else ["kiosk", "share"]
        if cfg.print.enabled:
            roles.append("printer")
        for role in roles:
            found = holder(data_dir, role)
            if found is not None:
                log.error("booth up: %s", AlreadyRunning(role, data_dir, found))
                return EXIT_ALREADY_RUNNING
        return _run(cfg, args, data_dir)
    finally:
        lock.release()


def _run(cfg: Config, args: argparse.Namespace, data_dir: Path) -> int:
    url, broker = ensure_broker(cfg, data_dir)
    env = child_env(cfg, url, data_dir, getattr(args, "config", None))
    if not cfg.gemini.api_key:
        log.warning("no GEMINI_API_KEY set: every photo gets the local effect (offline mode)")

    headless = args.headless
    if not headless and not args.no_kiosk and not display_available(env):
        log.warning(
            "no display found (no DISPLAY, WAYLAND_DISPLAY or /dev/dri): running the "
            "kiosk headless on the file camera; open the printed URLs to see results"
        )
        headless = True

    sup = Supervisor(env)
    sup.add("worker", booth_argv("worker"))
    sup.add("share", booth_argv("share"))
    if cfg.print.enabled:  # [print]: the print queue through CUPS (docs/printing.md)
        sup.add("printer", booth_argv("printer"))
    if not args.no_kiosk:
        kiosk_args = ["kiosk"]
        if headless:
            kiosk_args += ["--headless", "--interval", str(args.interval)]
            if args.folder:
                kiosk_args += ["--folder", str(Path(args.folder).resolve())]
            if args.shots:
                kiosk_args += ["--shots", str(args.shots)]
        else:
            if args.windowed:
                kiosk_args.append("--windowed")
            if args.folder:  # asked for: the kiosk never falls back to the file camera itself
                kiosk_args += ["--folder", str(Path(args.folder).resolve())]
        if not cfg.gemini.api_key:
            kiosk_args.append("--local-only")
        kiosk = sup.add("kiosk", booth_argv(*kiosk_args), finishes=bool(headless and args.shots))
    else:
        kiosk = None

    stop = {"flag": False}

    def on_signal(signum: int, _frame) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # the terminal was closed
    log.info(
        "booth up: data in %s, broker %s; Ctrl-C stops everything",
        data_dir,
        "private" if broker else "configured",
    )
    sup.start_all()
    links = CloudLinkPrinter(data_dir) if headless and cfg.cloud.enabled and kiosk else None
    try:
        while not stop["flag"]:
            sup.poll()
            if links is not None:
                links.poll()
            # A headless run with a shot limit ends when the kiosk has finished its shots.
            if kiosk and args.shots and kiosk.proc and kiosk.proc.poll() == 0:
                unit = "strip sessions" if cfg.kiosk.mode == "strip" else "shots"
                log.info("headless kiosk finished its %d %s", args.shots, unit)
                if links is not None:
                    links.wait_for_all(FINAL_UPLOAD_WAIT_S)
                break
            time.sleep(0.2)
    finally:
        if links is not None:
            links.poll()  # a link confirmed during the last shot's wait
            links.close()
        log.info("stopping …")
        sup.stop_all()
        if broker:
            broker.stop()
    return 0
