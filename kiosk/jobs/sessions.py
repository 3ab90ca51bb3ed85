"""Strip sessions on the kiosk's job side: 3 or 4 shots, one sheet (no pygame).

How a session groups its jobs: each shot is an ordinary job (its own row, its own MQTT job,
its own worker and fallback), so the frames are dripped in parallel across the worker pool and
one refused frame gets the local effect like any photo. The grouping is the kiosk's alone, in
the ledger (jobstore/sessions.py): the session's row, and one row per frame written on the
capture thread *before* the frame's job row; the job also carries `session_id` and `frame` as
MQTT 5 user properties, for the worker's logs (readers that do not know them ignore them).
After each frame, on the store thread, the session's record goes beside its frames in the photo
store, so a rebuild of a damaged ledger groups them again (jobstore/sessionrecord.py).

How a shot becomes a frame: the screen arms the next capture (`take`), then takes the shot as
always (kiosk/ui/app.py `take_shot`); `capture` (JobController.submit_capture) wraps the
camera call so that, once the still is in hand and the shooter has named its job, the frame is
written down before the shooter writes the job's row. Nothing of the shooter changes.

How it ends: the last frame closes the session (`done`); the screen closes it early when the
camera fails (`camera`); a session nobody shoots for a while is closed (`left`); on start, the
kiosk closes the sessions its previous process left shooting (`restart`) with the frames already
taken, and the screen says so. A closed session is composed once every frame is finished (a
picture, or failed: its shot stands in) on the compose thread (kiosk/jobs/compose.py); the sheet
is stored as the session's own row with its own token, and `JobViews` announces it like any
photo, so the result screen, `wait_done` and `on_ready` treat it as one.

Only the kiosk's own controller (no client suffix) follows and composes sessions: a `booth snap`
beside a running kiosk must not close the kiosk's session as interrupted.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from booth.config import Config
from booth.fsutil import atomic_write
from booth.images import BadImage
from booth.protocol import JobStatus
from jobstore.ledger import JobRow, Ledger, ledger_path, photo_dir
from jobstore.links import new_token
from jobstore.names import ai_name, result_name
from jobstore.sessionrecord import SessionInfo, write_record
from jobstore.sessions import (
    CLOSED,
    COMPOSED,
    DONE,
    SHOOTING,
    SessionRow,
    Sessions,
    Sheet,
    new_session_id,
)
from kiosk.jobs.compose import FrameFiles, SheetBrand, compose
from kiosk.jobs.views import JobEvent, JobView, JobViews

log = logging.getLogger(__name__)

LEFT = "left"  # the shooting stopped without the screen closing it (why the session ended)
EMPTY = "empty"  # a closed session without a stored frame: nothing to compose
ARMED_S = 30.0  # an armed capture not taken by then is forgotten
GRAB_WAIT_S = 5.0  # the shooter names the job within microseconds of the camera call
FRAME_LOST_S = 60.0  # a frame whose job row never came (the shot could not be stored)
IDLE_CLOSE_S = 30.0  # past the countdown and the pause: nobody is shooting this session
CHECK_EVERY_S = 0.25  # how often closed sessions are looked at (the store thread ticks faster)
RETRY_S = (2.0, 5.0, 15.0, 60.0)  # a sheet that could not be composed is tried again after
MAP_SESSIONS = 200  # recent sessions whose frames are known at start (the screens' window)


@dataclass(frozen=True)
class SessionView:
    """What a screen knows of a session (a snapshot; never mutated)."""

    session_id: str
    style: str
    layout: str
    shots: int
    created_at: float
    state: str  # shooting | closed | composed | empty
    ended: str | None = None  # done | camera | left | restart
    frames: tuple[str, ...] = ()  # job ids in shot order
    last_shot_at: float | None = None  # monotonic: when the last frame was taken here

    @property
    def taken(self) -> int:
        return len(self.frames)

    @property
    def shooting(self) -> bool:
        return self.state == SHOOTING


class SessionControls(Protocol):
    """What the screens do with sessions (kiosk/ui/context.py): `StripSessions` below, or the
    screenshot gallery's stand-in that only shows views."""

    def begin(self, style: str) -> str: ...

    def take(self, session_id: str, frame: int) -> None: ...

    def end(self, session_id: str, ended: str) -> None: ...

    def view(self, session_id: str) -> SessionView | None: ...


@dataclass
class _Followed:
    """A session this process follows until it is composed: its view and the compose state."""

    view: SessionView
    portrait: bool = False
    registered: dict[str, float] = field(default_factory=dict)  # frame job → when (mono)
    composing: bool = False
    failures: int = 0
    next_try: float = 0.0
    phase: str = ""  # the sheet placeholder's status last announced


class SessionMap:
    """job id → (session id, frame) for the views and the outbox, from any thread; a sheet's
    id maps to (its session, None). Each update replaces the whole dict (no lock to read)."""

    def __init__(self) -> None:
        self._map: dict[str, tuple[str, int | None]] = {}
        self._lock = threading.Lock()

    def of(self, job_id: str) -> tuple[str, int | None] | None:
        return self._map.get(job_id)

    def add(self, entries: dict[str, tuple[str, int | None]]) -> None:
        with self._lock:
            self._map = {**self._map, **entries}


class StripSessions:
    def __init__(
        self,
        cfg: Config,
        ledger: Ledger,
        views: JobViews,
        clock: Callable[[], float],
        mono: Callable[[], float],
        *,
        owner: bool,
        on_store_thread: Callable[[Callable[[], None]], None] = lambda task: task(),
    ) -> None:
        """`on_store_thread` runs a ledger write off the caller's thread (the job side's store
        loop): the screen's calls never wait on the disk."""
        self.cfg = cfg
        self.on_store_thread = on_store_thread
        self.data_dir = cfg.data_path
        self.ledger = ledger
        self.views = views
        self.clock = clock
        self.mono = mono
        self.owner = owner
        self.db = Sessions(ledger_path(self.data_dir))
        self.map = SessionMap()
        views.session_of = self.map.of
        self._lock = threading.Lock()
        self._followed: dict[str, _Followed] = {}
        self._ended: OrderedDict[str, SessionView] = OrderedDict()  # composed or empty, recent
        self._armed: tuple[str, int, float] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="compose")
        self._next_check = 0.0
        self._load_map()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.db.close()

    # ------------------------------------------------------------------ start
    def _load_map(self) -> None:
        """The recent sessions' frames, so the views of a restarted kiosk know their frames
        from the first frame on (kiosk/ui/app.py reopens a guest's unfinished session)."""
        entries: dict[str, tuple[str, int | None]] = {}
        for row in self.db.recent(MAP_SESSIONS):
            entries[row.session_id] = (row.session_id, None)
            for frame, job_id in self.db.frame_ids(row.session_id):
                entries[job_id] = (row.session_id, frame)
        self.map.add(entries)

    def recover(self) -> None:
        """On the kiosk's start: close what the previous process left shooting (`restart`) and
        follow every session not composed yet."""
        if not self.owner:
            return
        interrupted = self.db.close_interrupted(self.clock())
        for sid in interrupted:
            log.warning("strip session %s: the kiosk restarted mid-session; finishing it", sid)
        for row in self.db.open_sessions():
            frames = tuple(job for _f, job in self.db.frame_ids(row.session_id))
            view = SessionView(
                row.session_id,
                row.style,
                row.layout,
                row.shots,
                row.created_at,
                row.state,
                row.ended,
                frames,
            )
            with self._lock:
                self._followed[row.session_id] = _Followed(view, row.portrait)

    # ------------------------------------------------------------------ the screen's calls
    def begin(self, style: str) -> str:
        """A new session in `style` (the screen's tap); its row is written with the first
        frame. Returns its id."""
        sid = new_session_id()
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        view = SessionView(
            sid, style, self.cfg.strip.layout, self.cfg.strip.shots, self.clock(), SHOOTING
        )
        with self._lock:
            self._followed[sid] = _Followed(view)
        self.map.add({sid: (sid, None)})
        log.info("strip session %s: %d shots, %s", sid, view.shots, view.layout)
        return sid

    def take(self, session_id: str, frame: int) -> None:
        """The next capture (JobController.submit_capture) is frame `frame` of the session."""
        self._armed = (session_id, frame, self.mono())

    def end(self, session_id: str, ended: str) -> None:
        """No more shots for this session (`camera`: the camera failed; `left`)."""
        with self._lock:
            f = self._followed.get(session_id)
            if f is None or not f.view.shooting:
                return
            f.view = replace(f.view, state=CLOSED, ended=ended)
            taken = f.view.taken
        if taken:
            at = self.clock()

            def write() -> None:
                try:
                    self.db.close_session(session_id, ended, at)
                except Exception:  # the next start closes it as interrupted
                    log.exception("strip session %s: cannot close it in the ledger", session_id)
                    return
                self._save_record(session_id)

            self.on_store_thread(write)
        log.info("strip session %s: ended (%s) after %d shot(s)", session_id, ended, taken)

    def view(self, session_id: str) -> SessionView | None:
        """The session as the screens see it (memory only: the frame loop calls this), or
        None for a session this process never followed."""
        with self._lock:
            f = self._followed.get(session_id)
            return f.view if f is not None else self._ended.get(session_id)

    # ------------------------------------------------------------------ the capture
    def capture(
        self,
        shoot: Callable[[Callable[[], np.ndarray], str, tuple[int, int] | None], str],
        grab: Callable[[], np.ndarray],
        style: str,
        display_size: tuple[int, int] | None,
    ) -> str:
        """`shoot(grab, style, display_size)` (kiosk/jobs/shooter.py Shooter.capture), as frame
        of the armed session when one is armed."""
        armed, self._armed = self._armed, None
        if armed is None or self.mono() - armed[2] > ARMED_S:
            return shoot(grab, style, display_size)
        sid, frame, _at = armed
        named = threading.Event()
        job: list[str] = []
        portrait = display_size is not None and display_size[0] < display_size[1]

        def grab_frame() -> np.ndarray:
            image = grab()  # a camera failure raises here: no frame, the shooter reports it
            named.wait(GRAB_WAIT_S)
            if job:
                self._register(sid, frame, job[0], style, portrait)
            return image

        job_id = shoot(grab_frame, style, display_size)
        job.append(job_id)
        named.set()
        return job_id

    def _register(self, sid: str, frame: int, job_id: str, style: str, portrait: bool) -> None:
        """On the capture thread, before the shooter writes the job's row: the ledger first,
        then what the screens and the compose check see (so they never see a frame, or a
        closed session, the ledger does not have yet)."""
        with self._lock:
            f = self._followed.get(sid)
            if f is None:
                return
            if frame == 1:
                f.portrait = portrait
            view, port = f.view, f.portrait
        last = view.taken + 1 >= view.shots
        info = SessionInfo(
            sid, self.cfg.booth_id, view.style, view.layout, view.shots, port, view.created_at, None
        )
        try:
            self.db.register_frame(info, frame, job_id, self.clock() if last else None)
        except Exception:  # the frame still goes through as a photo of its own
            log.exception("strip session %s: cannot write frame %d", sid, frame)
        else:
            self.on_store_thread(functools.partial(self._save_record, sid))
        self.map.add({job_id: (sid, frame)})
        with self._lock:
            f.registered[job_id] = self.mono()
            f.view = replace(
                f.view,
                frames=f.view.frames + (job_id,),
                last_shot_at=self.mono(),
                state=CLOSED if last else f.view.state,
                ended=DONE if last else f.view.ended,
            )

    def _save_record(self, sid: str) -> None:
        """The session's record beside its frames, for a ledger rebuild
        (jobstore/sessionrecord.py); on the store thread, never the capture's."""
        try:
            record = self.db.record(sid)
            if record is not None:
                write_record(self.data_dir, record)
        except Exception as exc:  # the session goes on; only a rebuild would lose its grouping
            log.warning(
                "strip session %s: cannot write its record (%s); were the ledger rebuilt, its "
                "frames would come back as photos of their own",
                sid,
                exc,
            )

    # ------------------------------------------------------------------ the store thread
    def tick(self) -> None:
        """Close sessions nobody shoots; compose the closed ones whose frames are finished;
        keep the sheet's placeholder view in step (the recent strip, a restart)."""
        if not self.owner:
            return
        now = self.mono()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        with self._lock:
            followed = list(self._followed.items())
        for sid, f in followed:
            if f.view.shooting:
                since = f.view.last_shot_at
                if since is not None and now - since > IDLE_CLOSE_S + self.cfg.strip.pause_s:
                    self.end(sid, LEFT)
                continue
            if not f.composing and now >= f.next_try:
                self._check(sid, f, now)

    def _check(self, sid: str, f: _Followed, now: float) -> None:
        row = self.db.get(sid)
        if row is not None and row.state != CLOSED:
            return  # its close is still on its way to the ledger (JobController's store loop)
        registered = self.db.frame_ids(sid)
        rows = {r.job_id: r for r in self.db.frames(sid)}
        for _frame, job_id in registered:
            if job_id not in rows and now - f.registered.get(job_id, -1e18) > FRAME_LOST_S:
                log.warning("strip session %s: frame %s was never stored; left out", sid, job_id)
                self.db.forget_frame(job_id)
        present = [rows[j] for _f, j in registered if j in rows]
        self._placeholder(sid, f, present)
        if len(present) < len(registered):
            return  # a frame's row is on its way
        if not present:
            self.db.drop_empty(sid)
            self._finish(sid, EMPTY)
            self.views.forget(sid)
            return
        if not all(_finished(r) for r in present):
            return
        with self._lock:
            f.composing = True
        self._pool.submit(self._compose, sid, f, present)

    def _compose(self, sid: str, f: _Followed, frames: list[JobRow]) -> None:
        """On the compose thread: the two sheets, their files, the sheet's row."""
        t0 = time.perf_counter()
        try:
            session = self.db.get(sid)
            if session is None:  # deleted meanwhile (the operator)
                self._finish(sid, EMPTY)
                return
            stored = self._store(session, frames)
            took = time.perf_counter() - t0
        except (OSError, BadImage, ValueError) as exc:
            with self._lock:
                f.composing = False
                f.failures += 1
                f.next_try = self.mono() + RETRY_S[min(f.failures, len(RETRY_S)) - 1]
            log.error("strip session %s: the sheet could not be made (%s); trying again", sid, exc)
            self.db.note_error(sid, str(exc))
            return
        except Exception:
            with self._lock:
                f.composing = False
                f.failures += 1
                f.next_try = self.mono() + RETRY_S[-1]
            log.exception("strip session %s: composing failed", sid)
            return
        if stored is None:  # not closed in the ledger yet: the next check tries again
            with self._lock:
                f.composing = False
            return
        log.info("strip session %s: sheet of %d frames composed in %.2f s", sid, len(frames), took)
        self._finish(sid, COMPOSED)
        self.views.emit_row("status", stored)

    def _store(self, session: SessionRow, frames: list[JobRow]) -> JobRow | None:
        first = frames[0]
        files = [
            FrameFiles(
                self.data_dir / r.ai_path,
                self.data_dir / r.result_path if r.result_path else None,
            )
            for r in frames
        ]
        brand = SheetBrand.from_config(self.cfg, first.created_at)
        made = compose(session.layout, files, session.portrait, brand, self.cfg.kiosk.jpeg_quality)
        token = new_token()
        folder = photo_dir(self.data_dir, first.created_at)
        shots = folder / ai_name(session.session_id)
        result = folder / result_name(session.session_id, token, ".jpg")
        atomic_write(shots, made.shots)
        atomic_write(result, made.sheet)
        sheet = Sheet(_rel(result, self.data_dir), _rel(shots, self.data_dir), token, first)
        try:
            stored = self.db.store_sheet(session, sheet, self.clock())
        except Exception:
            result.unlink(missing_ok=True)
            raise
        if stored is None:
            result.unlink(missing_ok=True)  # composed before: the first sheet stays
        return self.ledger.get(session.session_id)

    def _finish(self, sid: str, state: str) -> None:
        with self._lock:
            f = self._followed.pop(sid, None)
            if f is None:
                return
            self._ended[sid] = replace(f.view, state=state)
            while len(self._ended) > MAP_SESSIONS:
                self._ended.popitem(last=False)
        if state == EMPTY:
            log.info("strip session %s: no frame was stored; nothing to compose", sid)

    def _placeholder(self, sid: str, f: _Followed, frames: list[JobRow]) -> None:
        """Until its sheet is stored, the session shows in the screens' job book as one entry
        with the sheet's id: in line, then being made once a frame is."""
        phase = (
            JobStatus.PROCESSING
            if any(r.status is not JobStatus.PENDING for r in frames)
            else JobStatus.PENDING
        )
        if phase.value == f.phase or not frames:
            return
        f.phase = phase.value
        self.views.put(
            JobEvent(
                "status",
                JobView(
                    sid,
                    f.view.style,
                    frames[0].created_at,
                    phase,
                    ai_path=self.data_dir / frames[0].ai_path,
                    session_id=sid,
                ),
            )
        )

    # ------------------------------------------------------------------ what the UI restores
    def placeholders(self) -> list[JobView]:
        """The sheets not composed yet, as views (kiosk/jobs/controller.py `recent`)."""
        out = []
        with self._lock:
            followed = list(self._followed.values())
        for f in followed:
            if f.view.frames:
                out.append(
                    JobView(
                        f.view.session_id,
                        f.view.style,
                        f.view.created_at,
                        JobStatus.PENDING,
                        session_id=f.view.session_id,
                    )
                )
        return out


def _finished(row: JobRow) -> bool:
    """A frame is finished with its picture stored, or failed without one."""
    return row.result_path is not None or row.status is JobStatus.FAILED


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))
