"""`booth printer`: the print queue through CUPS, until SIGTERM (docs/printing.md).

One printer process per data dir (a run lock). The systemd watchdog is pinged only while the
queue loop finishes its ticks, so a loop stuck on a CUPS that stopped answering gets the unit
restarted. With `[print] enabled = false` it says so and waits, doing nothing (the unit stays
up, so systemd does not restart it in a loop).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

from booth import sdnotify
from booth.config import Config
from booth.runlock import run_locked

log = logging.getLogger("printer")

STUCK_S = 45.0  # a tick older than this: stop pinging the watchdog (WatchdogSec=60)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--queue", metavar="NAME", help="CUPS queue to print to (default: print.queue)")


def run(cfg: Config, args: argparse.Namespace) -> int:
    if getattr(args, "queue", None):
        cfg.print.queue = args.queue
    return run_locked(cfg.data_dir, "printer", lambda: _run(cfg), log)


def _run(cfg: Config) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("printer: %s received; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not cfg.print.enabled:
        log.info("printer: printing is off ([print] enabled = false); nothing to do")
        sdnotify.ready("printing is off")
        while not stop.wait(1.0):
            sdnotify.watchdog()
        sdnotify.stopping()
        return 0
    from printer.service import PrinterService

    service = PrinterService(cfg).start()
    if not service.wait_ready(10):
        log.warning(
            "printer: broker %s not reachable yet; prints already queued go on, requests wait",
            service.mqtt.url.safe(),
        )
    sdnotify.ready(f"printing to {cfg.print.queue}")
    try:
        while not stop.wait(1.0):
            if time.monotonic() - service.heartbeat < STUCK_S:
                sdnotify.watchdog()
    finally:
        sdnotify.stopping()
        service.stop()
    return 0
