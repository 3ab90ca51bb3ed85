"""The printer on the operator's pages: its part of the dashboard (`/admin/api/state`), the
prints of each photo, `/metrics`' print series, and the operator's commands — resume a stopped
queue, cancel waiting prints, reprint a photo, add paper to the event's budget — sent to the
printer process (booth/printmsg.py).

Why commands over MQTT and not a write to the prints table: the printer process alone writes it
(docs/architecture.md, "Who owns which data"); it acts on the command and says what came of it in
its health (`last_command`), which this module waits for a few seconds so the operator's click
gets its answer. The share server only reads the table (the counts, the budget).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from booth.config import Config
from booth.healthboard import HealthBoard, PartView
from booth.mqtt import MqttConnection
from booth.printmsg import ACTIONS, ADD_PAPER, REPRINT, PrintCommand
from booth.protocol import Topics
from booth.texts import operator_print
from jobstore.ledger import Ledger, ledger_path
from jobstore.prints import Budget, PrintQueue
from jobstore.stats import event_of

ANSWER_WAIT_S = 5.0  # how long a command waits for the printer process's word
LABELS = (
    "printer",
    "prints_left",
    "no_budget",
    "printed",
    "waiting",
    "resume",
    "cancel_waiting",
    "reprint",
    "add_paper",
    "sheets",
)
ROUTE_ACTIONS = {"resume": "resume", "cancel": "cancel_waiting", "add-paper": ADD_PAPER}


def open_queue(cfg: Config) -> PrintQueue | None:
    """The prints table, read-only for this process (None: printing is off)."""
    return PrintQueue(ledger_path(cfg.data_dir)) if cfg.print.enabled else None


def budget(cfg: Config, ledger: Ledger, prints: PrintQueue) -> Budget:
    """The event's paper, counted the way the printer process counts it (jobstore/prints.py)."""
    start = event_of(cfg, ledger).start
    return prints.budget(cfg.print.budget, start, cfg.operator.event_gap_hours * 3600)


def printer_part(parts: Iterable[PartView]) -> PartView | None:
    return next((p for p in parts if p.part == "printer"), None)


def printer_view(
    cfg: Config, parts: list[PartView], ledger: Ledger, prints: PrintQueue | None
) -> dict[str, Any] | None:
    """The dashboard's Printer card: the state and what to do, the printer's supplies, the prints
    of the event and the paper left, the operator's last command; None when printing is off."""
    if prints is None:
        return None
    part = printer_part(parts)
    health = part.health if part is not None else None
    extra = health.extra if health is not None else {}
    start = event_of(cfg, ledger).start
    b = budget(cfg, ledger, prints)
    lang = cfg.kiosk.language
    return {
        "level": part.level if part is not None else "unknown",
        "online": part.online if part is not None else None,
        "reason": part.reason if part is not None else "",
        "fix": part.fix if part is not None else "",
        "problems": [p.to_dict() for p in (part.problems if part is not None else ())],
        "mode": cfg.print.mode,
        "queue": cfg.print.queue,
        "per_photo": cfg.print.copies,
        "printer": extra.get("printer") or {},
        "waiting": (extra.get("queue") or {}).get("waiting"),
        "prints": prints.counts_since(start),
        "budget": {"total": b.total, "used": b.used, "left": b.left},
        "last_command": extra.get("last_command"),
        "labels": {k: operator_print(lang, k) for k in LABELS},
    }


def photo_prints(prints: PrintQueue | None, job_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Each photo's prints (printed, waiting, failed) for its dashboard card."""
    if prints is None:
        return {}
    return {
        job: {"printed": p.printed, "waiting": p.waiting, "failed": p.failed}
        for job, p in prints.photos(job_ids).items()
    }


def metric_lines(
    cfg: Config, parts: list[PartView], ledger: Ledger, prints: PrintQueue | None
) -> list[tuple[str, str, str, list[tuple[float | int, dict[str, str]]]]]:
    """/metrics' print families: (name, type, help, [(value, labels)])."""
    if prints is None:
        return []
    start = event_of(cfg, ledger).start
    counts = prints.counts_since(start)
    b = budget(cfg, ledger, prints)
    part = printer_part(parts)
    out: list[tuple[str, str, str, list[tuple[float | int, dict[str, str]]]]] = [
        (
            "booth_prints",
            "gauge",
            "Sheets of the event by state (requested, sent, printing, printed, failed, cancelled)",
            [(counts.get(s, 0), {"state": s}) for s in sorted(set(counts) | {"printed"})],
        ),
        (
            "booth_print_queue",
            "gauge",
            "Sheets not out of the printer yet",
            [(sum(counts.get(s, 0) for s in ("requested", "sent", "printing")), {})],
        ),
    ]
    if b.left is not None:
        out.append(
            ("booth_prints_left", "gauge", "Prints left of the event's paper", [(b.left, {})])
        )
    problems = part.problems if part is not None else ()
    out.append(
        (
            "booth_printer_problem",
            "gauge",
            "1 for each problem the printer process reports (paper_out, queue_stopped, …)",
            [(1, {"code": p.code}) for p in problems],
        )
    )
    return out


def _count(body: Any) -> int:
    value = body.get("count", 1) if isinstance(body, dict) else 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise ValueError("count must be a whole number from 1 to 10000")
    return value


def parse_body(raw: bytes) -> dict[str, Any]:
    """A command's JSON body ({} when empty); ValueError when it is not a JSON object."""
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


async def send_command(
    cfg: Config,
    mqtt: MqttConnection | None,
    board: HealthBoard,
    action: str,
    job_id: str | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Publish one command to the printer process and wait a few seconds for its word: (HTTP
    status, answer). 503 when printing is off or there is no broker; 202 when the printer
    process has not answered in time (it acts on it once it runs: its session keeps it)."""
    if action not in ACTIONS:
        return 404, {"error": f"unknown print action {action!r}"}
    if not cfg.print.enabled:
        return 503, {"error": "printing is off ([print] enabled = false)"}
    if mqtt is None or not mqtt.connected:
        return 503, {"error": "the download server is not connected to the broker"}
    try:
        count = _count(body or {}) if action in (REPRINT, ADD_PAPER) else 1
    except ValueError as exc:
        return 400, {"error": str(exc)}
    cid = "c-" + secrets.token_hex(8)
    cmd = PrintCommand(action, cid, job_id, count)
    topic = Topics(cfg.mqtt.root).print_commands(cfg.booth_id)
    loop = asyncio.get_running_loop()
    acked = await loop.run_in_executor(None, mqtt.publish_wait, topic, cmd.to_json(), 5.0)
    if not acked:
        return 503, {"error": "the broker did not take the command (not allowed?)"}
    end = time.monotonic() + ANSWER_WAIT_S
    while time.monotonic() < end:
        _online, health = board.service("printer")
        last = health.extra.get("last_command") if health is not None else None
        if isinstance(last, dict) and last.get("id") == cid:
            return 200, {"command_id": cid, "action": action, "result": last.get("result")}
        await asyncio.sleep(0.1)
    return 202, {
        "command_id": cid,
        "action": action,
        "result": None,
        "note": "sent; the printer process has not answered yet",
    }
