"""The share process's health: its own and its uploader's, on MQTT and on the dashboard.

Once a second (off the event loop: the ledger and the queue are SQLite) it looks at what the
process knows — the ledger answers, the operator listener is up, the connection guard refused
clients, the uploader's state and queue — and publishes the retained
`{root}/{booth}/share/health` and (with `[cloud]`) `{root}/{booth}/uploader/health` when that
changes and every `operator.health_every_s`. Both are also put straight into the process's
health board (booth/healthboard.py), so the dashboard shows them without a broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from booth.config import Config
from booth.healthboard import HealthBoard
from booth.mqtt import MqttConnection
from booth.protocol import Health, Problem, Topics
from jobstore.ledger import Ledger

if TYPE_CHECKING:  # pragma: no cover
    from share.conncaps import ConnectionGuard
    from share.uploader import Uploader

log = logging.getLogger("share.health")

TICK_S = 1.0
REFUSALS_WINDOW_S = 60.0


def board_for(cfg: Config) -> HealthBoard:
    """The share process's board: parts that report every `operator.health_every_s` (workers:
    every 30 s) are called silent after three missed reports."""
    every = max(30.0, cfg.operator.health_every_s)
    return HealthBoard(Topics(cfg.mqtt.root), cfg.booth_id, stale_s=3 * every + 10)


@dataclass
class Listeners:
    """What the share process serves (set by share/cli.py once it listens)."""

    guests: str = ""  # host:port
    operator: str = ""  # host:port, or "" with the reason in operator_off
    operator_off: str = ""
    guard: ConnectionGuard | None = None


def state_of(problems: list[Problem]) -> str:
    return "error" if any(p.level == "error" for p in problems) else "warn" if problems else "ok"


def _health(part: str, booth: str, problems: list[Problem], **extra: Any) -> Health:
    first = problems[0] if problems else None
    counts = extra.pop("counts", {})
    return Health(
        state=state_of(problems),
        part=part,
        id=booth,
        reason=first.reason if first else "",
        fix=first.fix if first else "",
        counts=counts,
        problems=tuple(problems),
        extra=extra,
    )


class ShareHealth:
    def __init__(
        self,
        cfg: Config,
        board: HealthBoard,
        ledger: Ledger,
        mqtt: MqttConnection | None = None,
        listeners: Listeners | None = None,
        uploader: Uploader | None = None,
        mono: Any = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.board = board
        self.ledger = ledger
        self.mqtt = mqtt
        self.listeners = listeners or Listeners()
        self.uploader = uploader
        self.mono = mono
        self.topics = Topics(cfg.mqtt.root)
        self._refusals: list[tuple[float, int]] = []
        self._sent: dict[str, tuple] = {}
        self._sent_at: dict[str, float] = {}
        self._was_connected = False

    # ------------------------------------------------------------------ what is true now
    def share_health(self) -> Health:
        problems: list[Problem] = []
        try:
            self.ledger.get("healthz-probe")
            ledger = "ok"
        except Exception as exc:
            ledger = f"unreadable: {exc}"
            problems.append(
                Problem(
                    "ledger",
                    "error",
                    f"the ledger cannot be read ({exc}): guests' links fail",
                    "sudo systemctl restart booth-share "
                    "(a damaged ledger is rebuilt); `booth doctor` checks it",
                )
            )
        li = self.listeners
        refused = self._refused_lately()
        if refused:
            problems.append(
                Problem(
                    "refusals",
                    "warn",
                    f"{refused} connection(s) refused in "
                    "the last minute (too many from one phone or script)",
                    "nothing, if guests can download; else see `journalctl -u booth-share`",
                )
            )
        if self.mqtt is None:
            problems.append(
                Problem(
                    "no_broker",
                    "warn",
                    "the download server runs without the "
                    "broker: retention keeps retained messages, no health is "
                    "gathered",
                    "start booth share without --no-mqtt",
                )
            )
        elif not self.mqtt.connected:
            problems.append(
                Problem(
                    "broker",
                    "error",
                    "the download server cannot reach the broker",
                    "sudo systemctl status mosquitto",
                )
            )
        return _health(
            "share",
            self.cfg.booth_id,
            problems,
            ledger=ledger,
            guests=li.guests,
            operator=li.operator or None,
            operator_off=li.operator_off or None,
            connections=li.guard.open_total if li.guard is not None else None,
        )

    def uploader_health(self) -> Health | None:
        up = self.uploader
        if up is None:
            return None
        counts = up.queue.counts()
        pending = counts.get("queued", 0)
        st = up.status
        problems: list[Problem] = []
        if st.state == "offline":
            problems.append(
                Problem(
                    "bucket_offline",
                    "warn",
                    f"the bucket cannot be reached "
                    f"({st.message}); {pending} photo(s) wait, guests get the "
                    "LAN link",
                    "check the booth's internet connection; uploads resume by themselves",
                )
            )
        elif st.state == "refused":
            problems.append(
                Problem(
                    "bucket_refused",
                    "error",
                    f"the bucket refuses the uploads: {st.message}; {pending} photo(s) wait",
                    "check [cloud] and /etc/booth/cloud.env; `booth doctor` checks the bucket",
                )
            )
        return _health(
            "uploader",
            self.cfg.booth_id,
            problems,
            counts={"uploaded": st.uploaded, "deleted": st.deleted, "failures": st.failures},
            uploads={"pending": pending, "uploaded": counts.get("uploaded", 0)},
            cloud=st.state,
        )

    def _refused_lately(self) -> int:
        guard = self.listeners.guard
        if guard is None:
            return 0
        now = self.mono()
        self._refusals.append((now, guard.refused))
        while len(self._refusals) > 1 and now - self._refusals[0][0] > REFUSALS_WINDOW_S:
            self._refusals.pop(0)
        return guard.refused - self._refusals[0][1]

    # ------------------------------------------------------------------ reporting
    def check(self) -> None:
        """Look now: into the board at once, onto MQTT when it changed or is due."""
        connected = self.mqtt is not None and self.mqtt.connected
        back = connected and not self._was_connected
        self._was_connected = connected
        for name, health in (("share", self.share_health()), ("uploader", self.uploader_health())):
            if health is None:
                continue
            self.board.put(name, health)
            if connected:
                self._publish(name, health, force=back)

    def _publish(self, name: str, health: Health, force: bool) -> None:
        key = (health.state, tuple((p.code, p.level) for p in health.problems))
        now = self.mono()
        if (
            not force
            and self._sent.get(name) == key
            and now - self._sent_at.get(name, -1e9) < self.cfg.operator.health_every_s
        ):
            return
        assert self.mqtt is not None
        self.mqtt.publish(
            self.topics.service_health(self.cfg.booth_id, name),
            health.to_json(),
            qos=1,
            retain=True,
        )
        if self._sent.get(name, key) != key:
            log.info(
                "share: %s health %s%s",
                name,
                health.state,
                f" ({health.reason})" if health.reason else "",
            )
        self._sent[name], self._sent_at[name] = key, now

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.check)
            except Exception:
                log.exception("share: health check failed; trying again")
            await asyncio.sleep(TICK_S)
