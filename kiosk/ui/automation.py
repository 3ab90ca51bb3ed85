"""Driving the kiosk without a guest: `booth up --headless`, demos, soak and end-to-end tests.

Kept out of the frame loop's main path: the loop calls `tick()` and `after_frame()` once per frame
(cheap: no disk access); a watcher thread reads the trigger file and writes the state file.
- auto-shoot: a shot every `interval` seconds on screens a guest could shoot from, and the
  process ends after `max_shots` shots have finished; in strip mode a shot is a session (the
  tap that starts it), and it has finished once its sheet is stored (or it ended without a
  frame), so a run never stops between a session's frames and its sheet;
- a control directory: a file `DIR/shoot` triggers a shot (its text picks the style) and
  `DIR/state.json` tells the current screen, the camera and each job's state.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.jobs.sessions import SessionControls, SessionView
from kiosk.ui.jobbook import JobBook
from kiosk.ui.machine import ScreenName

log = logging.getLogger(__name__)

# Screens the auto-shooter shoots from (a guest may shoot while earlier jobs process).
AUTO_SHOOT_SCREENS = (ScreenName.ATTRACT, ScreenName.PROCESSING, ScreenName.RESULT)
CONTROL_EVERY_S = 0.1


@dataclass(frozen=True)
class KioskControls:
    """All automation may see and do of the kiosk (kiosk/ui/app.py gives it), the way screens
    get a ScreenContext: it never reaches into the app."""

    screen: Callable[[], ScreenName]  # the screen on show
    screen_state: Callable[[], dict]  # what that screen reports about itself
    camera_state: Callable[[], str]  # live | starting | reconnecting
    failures: Callable[[], int]  # screen failures so far (the failsafe's count)
    jobs: JobBook  # what the screens know of the jobs (read only here)
    request_shot: Callable[..., bool]  # (style, debounce=True): a tap on the shutter
    stop: Callable[[], None]  # end the frame loop
    strip: bool = False  # kiosk.mode = "strip": a tap starts a session
    session_done: Callable[[str], bool] = lambda _sid: True  # its sheet stored, or it ended empty


class CountedSessions:
    """The job side's sessions as the screens use them, each one begun noted for the
    automation: in strip mode `--shots` counts sessions."""

    def __init__(self, inner: SessionControls, begun: list[str]) -> None:
        self.inner = inner
        self.begun = begun

    def begin(self, style: str) -> str:
        session_id = self.inner.begin(style)
        self.begun.append(session_id)
        return session_id

    def take(self, session_id: str, frame: int) -> None:
        self.inner.take(session_id, frame)

    def end(self, session_id: str, ended: str) -> None:
        self.inner.end(session_id, ended)

    def view(self, session_id: str) -> SessionView | None:
        return self.inner.view(session_id)


class Automation:
    def __init__(
        self,
        kiosk: KioskControls,
        now: Callable[[], float],
        *,
        interval: float = 0.0,
        max_shots: int = 0,
        control_dir: str | Path | None = None,
    ) -> None:
        self.kiosk = kiosk
        self.now = now
        self.interval = interval
        self.max_shots = max_shots
        self.control_dir = Path(control_dir) if control_dir else None
        self.shots: set[str] = set()  # jobs this session shot (by hand or automatically)
        self.sessions: list[str] = []  # strip sessions begun (CountedSessions)
        self._last_auto = now()
        self._requests: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._state: dict | None = None  # the latest snapshot, written by the watcher thread
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if self.control_dir is not None:
            self._watcher = threading.Thread(target=self._watch, name="control-dir", daemon=True)
            self._watcher.start()

    def tick(self, now: float) -> None:
        """Once per frame on the frame loop: no disk access here (the watcher does that)."""
        kiosk = self.kiosk
        taken = len(self.sessions) if kiosk.strip else len(self.shots)
        if (
            self.interval
            and kiosk.screen() in AUTO_SHOOT_SCREENS
            and now - self._last_auto >= self.interval
            and (not self.max_shots or taken < self.max_shots)
        ):
            if kiosk.request_shot(None, debounce=False):
                self._last_auto = now
        if self.max_shots and taken >= self.max_shots and self._all_finished():
            kiosk.stop()
        while not self._requests.empty():
            style = self._requests.get()
            if not kiosk.request_shot(style):
                log.info("control: shot request ignored on screen %s", kiosk.screen())

    def _all_finished(self) -> bool:
        kiosk = self.kiosk
        if kiosk.strip:
            return all(kiosk.session_done(s) for s in self.sessions)
        return all(kiosk.jobs.finished(j) for j in self.shots)

    def after_frame(self) -> None:
        """Snapshot what the state file reports (the watcher thread writes it)."""
        if self.control_dir is None:
            return
        kiosk = self.kiosk
        state = {
            "screen": str(kiosk.screen()),
            "camera": kiosk.camera_state(),
            "pid": os.getpid(),
            "failures": kiosk.failures(),
        }
        try:
            state.update(kiosk.screen_state())
        except Exception:  # a screen's report must never stop the frame loop
            log.debug("screen state for the control directory failed", exc_info=True)
        state["jobs"] = {
            v.job_id: ("ready" if v.ready else "failed" if v.failed else v.status.value)
            for v in kiosk.jobs.views.values()
        }
        self._state = state

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def _watch(self) -> None:
        assert self.control_dir is not None
        trigger = self.control_dir / "shoot"
        written: dict | None = None
        while not self._stop.wait(CONTROL_EVERY_S):
            if trigger.exists():
                try:
                    style = trigger.read_text().strip() or None
                    trigger.unlink()
                except OSError:
                    continue
                self._requests.put(style)
            state = self._state
            if state is not None and state != written:
                tmp = self.control_dir / ".state.json.tmp"
                try:
                    tmp.write_text(json.dumps(state))
                    os.replace(tmp, self.control_dir / "state.json")
                    written = state
                except OSError as exc:
                    log.warning("cannot write the state file: %s", exc)
