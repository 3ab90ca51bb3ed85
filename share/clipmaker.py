"""The clip maker: a reveal clip (share/clips.py) for every newly stored result.

Why in the share process: it serves the clip and uploads it, it already follows new results in
the ledger (share/uploader.py does the same for the bucket), and the kiosk's CPU belongs to the
live preview. The kiosk shows the still and its QR at once and never waits for a clip; a guest
whose clip cannot be made (no encoder, a broken picture) simply has none.

How: a thread looks for stored results without a clip (an indexed query every POLL_S), newest
first, and makes one at a time in a child process (`python -m share.clips`) that runs at idle
priority (SCHED_IDLE, else nice 19): it gets the CPU only when the kiosk, the worker and this
server's event loop leave it, it has a GIL of its own, it is killed after CHILD_TIMEOUT_S, and its
memory goes back when it ends. Each try is recorded in the `clips` table (jobstore/clips.py)
before it starts, so a crash is retried a bounded number of times.

A full disk: the guests' pages and downloads only read, so they go on; clips wait. When the
clip's file (ENOSPC from the child) or its row (SQLite's "database or disk is full" or an I/O
error: jobstore/schema.py disk_refused) cannot be written, no clip is made now, the try is handed
back so it does not count against the picture, one line says so, and the clip maker looks again
every STORAGE_RETRY_S until a clip can be written; a result older than CATCH_UP_S by then gets
none.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.config import Config
from booth.sheet import layout
from jobstore.clips import Clips, Wanted
from jobstore.ledger import ledger_path, resolve_in_store
from jobstore.names import clip_path
from jobstore.schema import disk_refused
from jobstore.sessions import Sessions
from share import h264

log = logging.getLogger("share.clipmaker")

POLL_S = 0.5  # how often new results are looked for
CATCH_UP_S = 3600.0  # results older than this get no clip (after an update, or a long outage)
CHILD_TIMEOUT_S = 300.0  # a child still busy after this is killed (a Pi under full load: ~30 s)
ORPHANS_EVERY_S = 60.0
STORAGE_RETRY_S = 30.0  # the disk was full: how long before clips are tried again
# what the child's failure to write the clip says when the disk, not the picture, is at fault
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class StorageFull(Exception):
    """The clip's file could not be written for want of room: no clip now, none counted."""


@dataclass
class ClipMakerState:
    """What the clip maker did since start, for logs and tests."""

    made: int = 0
    failed: int = 0
    encoder: str = ""  # "" until checked; "OpenH264" or why there is none
    last_error: str = ""
    storage: str = ""  # why clips wait for the disk; "" while they can be written


class ClipMaker:
    def __init__(
        self,
        cfg: Config,
        *,
        timeout_s: float = CHILD_TIMEOUT_S,
    ) -> None:
        self.cfg = cfg
        self.clips = Clips(ledger_path(cfg.data_dir))
        self.sessions = Sessions(ledger_path(cfg.data_dir))  # a sheet's clip goes frame by frame
        self.timeout_s = timeout_s
        self.state = ClipMakerState()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[str] | None = None
        self._next_orphans = 0.0
        self._postponed: set[str] = set()  # tries the disk cut short, not yet handed back

    def start(self) -> ClipMaker:
        self._thread = threading.Thread(target=self._loop, name="clip-maker", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        child = self._child
        if child is not None and child.poll() is None:
            _kill(child)
        if self._thread is not None:
            self._thread.join(timeout)
        self.clips.close()
        self.sessions.close()

    def _loop(self) -> None:
        if not self._encoder_ready():
            return
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:
                busy = 0
                if isinstance(exc, StorageFull) or disk_refused(exc):
                    self._storage_full(exc)
                else:
                    log.exception("clips: pass failed; trying again")
            if not busy:
                self._wake.wait(STORAGE_RETRY_S if self.state.storage else POLL_S)
                self._wake.clear()

    def _storage_full(self, exc: Exception) -> None:
        """One line when the disk first stops a clip; the pause until the next look is the
        loop's. Tries already cut short are handed back now if the ledger takes it."""
        why = str(exc) if isinstance(exc, StorageFull) else f"the ledger cannot be written: {exc}"
        if not self.state.storage:
            log.warning(
                "clips: no reveal clips while the disk is full or failing (%s); guests get "
                "their photos as always, clips are tried again every %g s",
                why,
                STORAGE_RETRY_S,
            )
        self.state.storage = why
        try:
            self._hand_back()
        except Exception as again:
            if not disk_refused(again):
                log.exception("clips: cannot hand back the tries the disk cut short")
            # still full: the next pass tries again

    def _hand_back(self) -> None:
        """Tries the disk cut short no longer count (raises while the ledger cannot be written)."""
        for job_id in sorted(self._postponed):
            self.clips.postpone(job_id)
            self._postponed.discard(job_id)

    def _storage_back(self) -> None:
        """A clip or its failure was written: one line if the disk had stopped clips."""
        if self.state.storage:
            log.info("clips: the disk takes clips again; making them as before")
            self.state.storage = ""

    def _encoder_ready(self) -> bool:
        try:
            h264.load_library()
        except h264.EncoderUnavailable as exc:
            self.state.encoder = str(exc)
            log.warning(
                "clips: no reveal clips on this machine (%s); guests get their photos as "
                "always. `apt install libopenh264-7` adds them.",
                exc,
            )
            return False
        self.state.encoder = "OpenH264"
        log.info("clips: making a reveal clip for every new picture (OpenH264, idle priority)")
        return True

    # ------------------------------------------------------------------ one pass
    def run_once(self) -> int:
        """Make the newest wanted clip, if any; returns how many were tried (0 or 1).

        Raises sqlite3.OperationalError when the ledger cannot be written and StorageFull when
        the clip's file cannot (a full disk): nothing is counted against the picture."""
        now = time.time()
        self._hand_back()
        self.clips.give_up_interrupted(now)
        if now >= self._next_orphans:
            self._next_orphans = now + ORPHANS_EVERY_S
            self.clips.forget_orphans()
        wanted = self.clips.wanted(now - CATCH_UP_S, 1)
        if not wanted:
            self.state.storage = ""  # nothing is waiting for the disk any more
            return 0
        self.make(wanted[0])
        if not self._stop.is_set():
            self._storage_back()  # made, or failed for the picture's sake: the disk took it
        return 1

    def make(self, w: Wanted) -> bool:
        """One clip through the child process; True when it was made."""
        data = self.cfg.data_dir
        shot, result = resolve_in_store(data, w.ai_path), resolve_in_store(data, w.result_path)
        rel = clip_path(w.result_path)
        out = resolve_in_store(data, rel)
        t0 = time.monotonic()
        self.clips.start(w.job_id, time.time())
        if shot is None or result is None or out is None:
            return self._failed(w.job_id, "a path leaves the data dir", t0)
        cmd = [sys.executable, "-m", "share.clips", str(shot), str(result), str(out)]
        cmd += ["--title", self.cfg.kiosk.title]
        cells = self._cells(w.job_id)
        if cells:
            cmd += ["--cells", cells]
        try:
            self._child = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=str(Path(__file__).resolve().parents[1]),
                start_new_session=True,  # killed as a group on timeout or stop
            )
            out_text, err_text = self._child.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            if self._child is not None:
                _kill(self._child)
            return self._failed(w.job_id, f"took longer than {self.timeout_s:g} s", t0)
        except OSError as exc:
            return self._failed(w.job_id, f"cannot start the clip process: {exc}", t0)
        finally:
            child, self._child = self._child, None
        if self._stop.is_set():
            return False  # stopped mid-clip: the row stays `making` and is tried again
        report = _last_json(out_text)
        if child is None or child.returncode != 0 or "frames" not in report:
            code = child.returncode if child is not None else "?"
            why = str(report.get("error") or err_text.strip()[-300:] or f"exit {code}")
            if report.get("errno") in STORAGE_ERRNOS:
                self._postponed.add(w.job_id)
                raise StorageFull(f"the clip cannot be written: {why}")
            return self._failed(w.job_id, why, t0)
        took = time.monotonic() - t0
        try:
            self.clips.made(
                w.job_id,
                rel,
                (int(report["width"]), int(report["height"])),
                int(report["frames"]),
                int(report["fps"]),
                int(report["bytes"]),
                round(took, 3),
                time.time(),
            )
        except sqlite3.Error as exc:
            if disk_refused(exc):
                self._postponed.add(w.job_id)  # its file is made again once the row can say so
            raise
        self.state.made += 1
        log.info(
            "clips: job %s: clip made in %.1f s (%d KB)",
            w.job_id,
            took,
            int(report["bytes"]) // 1024,
        )
        return True

    def _cells(self, job_id: str) -> str:
        """A strip session's sheet: its frame boxes for the clip (`x,y,w,h;…` as fractions of
        the sheet), else ''."""
        session = self.sessions.get(job_id)
        if session is None:
            return ""
        frames = len(self.sessions.frame_ids(job_id))
        if not frames:
            return ""
        lay = layout(session.layout, frames, session.portrait)
        sw, sh = lay.size
        return ";".join(
            f"{c.x / sw:.5f},{c.y / sh:.5f},{c.w / sw:.5f},{c.h / sh:.5f}" for c in lay.cells
        )

    def _failed(self, job_id: str, why: str, t0: float) -> bool:
        self.clips.failed(job_id, why, round(time.monotonic() - t0, 3), time.time())
        self.state.failed += 1
        if why != self.state.last_error:  # the same reason again is not logged again
            log.warning("clips: job %s gets no clip: %s", job_id, why)
        self.state.last_error = why
        return False


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _kill(child: subprocess.Popen[str]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        pass
