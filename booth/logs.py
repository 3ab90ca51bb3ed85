"""One log format for every process (journald adds the time on the Pi; we add it elsewhere)."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str = "INFO", name: str = "booth") -> None:
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(name)s %(levelname)s %(message)s" if under_journald else \
        "%(asctime)s " + name + " %(name)s %(levelname)s %(message)s"
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=fmt,
                        stream=sys.stderr, force=True)
    # paho and the HTTP stacks are chatty at DEBUG; keep them at WARNING unless asked.
    for noisy in ("httpx", "httpx2", "httpcore", "google_genai", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level.upper() != "DEBUG"
                                          else logging.DEBUG)
