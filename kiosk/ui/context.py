"""What a screen may use: the screen context (instead of the whole app).

Screens read the layout, fonts, pictures, jobs and the booth's status, and act only through
`fire` (report an event to the state machine, `kiosk/ui/machine.py`) and the few actions below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from booth.config import Config
from booth.protocol import Problem
from booth.texts import Texts
from kiosk.jobs.printwatch import NO_PRINTING, PrintView
from kiosk.jobs.sessions import SessionControls
from kiosk.ui.jobbook import JobBook
from kiosk.ui.machine import Event
from kiosk.ui.pictures import Pictures
from kiosk.ui.surfaces import ImageStore
from kiosk.ui.theme import Fonts, Layout


@dataclass(frozen=True)
class BoothStatus:
    """The booth's connections, as of this frame."""

    connected: bool = False  # the kiosk reaches its broker
    ai_online: bool | None = None  # any worker online (None: no word yet)
    local_only: bool | None = None  # the workers run without an AI key
    camera: str = "starting"  # live | starting | reconnecting
    # the operator mark (kiosk/healthwatch.py, drawn by kiosk/ui/screens/operator_mark.py): what
    # needs the operator, and whether its reasons are open (a long press on the mark, or F1)
    alerts: tuple[Problem, ...] = ()
    alerts_open: bool = False


@dataclass
class ScreenContext:
    cfg: Config
    layout: Layout
    fonts: Fonts
    texts: Texts  # every guest text (booth/texts.py)
    images: ImageStore
    pictures: Pictures
    jobs: JobBook
    now: Callable[[], float]  # monotonic: animations and timeouts
    wall: Callable[[], float]  # wall clock: how old a job is
    fire: Callable[..., bool]  # fire(Event, **details)
    request_shot: Callable[..., bool]  # a guest's tap on the shutter (debounced)
    take_shot: Callable[[str | None], str]  # the shutter itself, at the end of a countdown
    open_job: Callable[[str], None]  # a tap on a photo of the recent strip
    wait_phase: Callable[..., str]  # (job, waited_s) → wait | notice | leave
    status: BoothStatus = BoothStatus()
    # strip sessions (kiosk/jobs/sessions.py; None: no job side, as in the screenshot gallery)
    # and the camera's still mode, readied when each of a session's countdowns starts
    sessions: SessionControls | None = None
    prepare_still: Callable[[], None] = lambda: None
    # [print] (kiosk/jobs/printwatch.py): what the result screen shows of a photo's prints, and
    # the guest's tap on Print (False: not a tap that asks)
    print_view: Callable[[str], PrintView] = lambda _job: NO_PRINTING
    request_print: Callable[[str], bool] = lambda _job: False

    def done(self) -> None:
        """Back to the start screen (timeouts, "New photo", "Try again")."""
        self.fire(Event.DONE)
