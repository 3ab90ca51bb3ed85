"""`booth worker`: run the job consumer until SIGTERM/SIGINT, then stop gracefully."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from booth import sdnotify
from booth.config import Config

log = logging.getLogger("worker")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--id",
        metavar="ID",
        default=None,
        help="worker id (MQTT client id and availability topic); "
        "default: worker.id or worker-<hostname>-<slot>",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs processed at once (overrides worker.concurrency)",
    )


def run(cfg: Config, args: argparse.Namespace) -> int:
    from worker.service import Worker

    if getattr(args, "concurrency", None):
        if not 1 <= args.concurrency <= 64:
            log.error("--concurrency must be between 1 and 64")
            return 2
        cfg.worker.concurrency = args.concurrency
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info(
            "worker: %s received; finishing in-flight jobs (grace %g s)",
            signal.Signals(signum).name,
            cfg.worker.grace_s,
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = Worker(cfg, worker_id=getattr(args, "id", None)).start()
    if not worker.wait_ready(10):
        log.warning(
            "worker %s: broker %s not reachable yet; retrying in the background",
            worker.id,
            worker.mqtt.url.safe(),
        )
    sdnotify.ready(f"worker {worker.id}")
    while not stop.wait(1.0):
        sdnotify.watchdog()
    sdnotify.stopping()
    clean = worker.stop()
    return 0 if clean else 1
