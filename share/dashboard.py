"""What the operator's dashboard shows, as data: health, the event's numbers, one page of its
photos. `/admin` (a page that fetches `/admin/api/state` every few seconds and updates itself
in place: share/operator_pages.py) and `/metrics` (share/metrics.py) are both built from it.

Also the dashboard's actions on a job: its original (for a job that failed, the guest's shot is
still on disk), delete (files, links, retained messages, cloud copies: jobstore/retention.py
`delete_jobs`; the share process is the ledger's deleter) and the zip of the whole event.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.config import Config
from booth.healthboard import HealthBoard, PartView
from jobstore.ledger import JobRow, Ledger, resolve_in_store
from jobstore.links import public_base_url, share_url
from jobstore.prints import PrintQueue
from jobstore.sessions import Entry, Sessions
from jobstore.stats import EventStats, event_label, event_stats
from jobstore.uploads import Uploads
from share import printing
from share.lookup import PhotoLookup, is_expired, servable
from share.zipstream import Member

log = logging.getLogger("share.dashboard")

PER_PAGE = 24
MAX_PER_PAGE = 96


@dataclass
class Sources:
    """What the dashboard reads (the operator app's keys, in one place for the handlers)."""

    cfg: Config
    ledger: Ledger
    lookup: PhotoLookup
    board: HealthBoard
    uploads: Uploads | None = None
    prints: PrintQueue | None = None  # [print] on: the prints table (read only here)
    strips: Sessions | None = None  # strip sessions (jobstore/sessions.py), read only here


def uploads_pending(src: Sources) -> int | None:
    if src.uploads is None:
        return None
    return src.uploads.counts().get("queued", 0)


def health_view(src: Sources) -> dict:
    parts = src.board.parts(cloud=src.cfg.cloud.enabled, printer=src.cfg.print.enabled)
    return {"level": src.board.worst(parts), "parts": [_part(p) for p in parts]}


def _part(p: PartView) -> dict:
    d = p.to_dict()
    d.pop("health")  # the dashboard shows the words; /metrics reads the health itself
    h = p.health
    d["details"] = _details(p.part, h.to_dict() if h is not None else {})
    if p.protocol_note:  # a mixed fleet: say which side to upgrade (booth/healthboard.py)
        d["details"].append(p.protocol_note)
    return d


def _details(part: str, h: dict) -> list[str]:
    """A few facts per part, in words (the tooltip-sized line under its name)."""
    out: list[str] = []
    if part == "kiosk" and h:
        cam = h.get("camera") or {}
        if cam:
            out.append(
                f"camera {cam.get('state')}"
                + (f" ({cam.get('backend')})" if cam.get("backend") else "")
            )
        if h.get("disk_free_mb") is not None:
            out.append(f"{h['disk_free_mb'] / 1024:.1f} GB free")
        if h.get("clock_synchronized") is False:
            out.append("clock not synchronized")
        if h.get("screen"):
            out.append(f"screen: {h['screen']}")
    elif part == "worker" and h:
        if h.get("ai"):
            out.append(f"AI {h['ai']}")
        out.append(f"{h.get('jobs_in_flight', 0)} in flight")
        counts = h.get("counts") or {}
        if counts:
            out.append(f"{counts.get('completed', 0)} done since start")
    elif part == "uploader" and h:
        ups = h.get("uploads") or {}
        out.append(f"{ups.get('pending', 0)} waiting, {ups.get('uploaded', 0)} uploaded")
    elif part == "printer" and h:
        pr = h.get("printer") or {}
        if pr.get("state"):
            out.append(f"queue {pr.get('queue')} {pr['state']}")
        waiting = (h.get("queue") or {}).get("waiting")
        if waiting:
            out.append(f"{waiting} waiting")
        left = (h.get("budget") or {}).get("left")
        if left is not None:
            out.append(f"{left} prints left")
    elif part == "share" and h:
        if h.get("operator"):
            out.append(f"operator pages on {h['operator']}")
    return out


def job_view(src: Sources, row: JobRow, base: str, links: dict) -> dict:
    ok = servable(row, src.cfg.retention_days, src.lookup.clock)
    cloud = links.get(row.job_id)
    lan = share_url(src.cfg, row.token, base) if ok and row.token else None
    link = cloud.url if ok and cloud is not None and cloud.live(time.time()) else lan
    if ok:
        phase = "ready"
    elif row.status.value == "failed":
        phase = "failed"
    else:
        phase = "in_progress"
    jid = row.job_id
    wait = None
    if ok and row.finished_at is not None:
        wait = round(row.finished_at - row.created_at, 1)
    return {
        "id": jid,
        "time": time.strftime("%H:%M:%S", time.localtime(row.created_at)),
        "created_at": row.created_at,
        "status": row.status.value,
        "phase": phase,
        "effect": row.effect,
        "style": row.style,
        "error": row.error.to_dict() if row.error else None,
        "link": link,
        "link_kind": ("cloud" if link and link != lan else "lan") if link else None,
        "code": row.code if ok else None,
        "wait_s": wait,
        "thumb": f"/admin/thumb/{jid}.jpg" if ok else None,
        "original": f"/admin/original/{jid}.jpg",
        "original_thumb": f"/admin/original/{jid}/thumb.jpg",
        "qr": f"/admin/qr/{jid}.svg" if ok else None,
    }


def session_view(src: Sources, session_id: str, base: str, links: dict) -> dict | None:
    """A strip session as one entry: its sheet (once composed; before that its first frame
    stands for it, in progress) with its frames, each as a photo of its own."""
    assert src.strips is not None
    session = src.strips.get(session_id)
    if session is None:
        return None
    frames = src.strips.frames(session_id)
    sheet = src.ledger.get(session_id)
    if sheet is not None:
        view = job_view(src, sheet, base, links)
    elif frames:
        view = job_view(src, frames[0], base, {})
        view.update(
            id=session_id,
            status="pending",
            phase="in_progress",
            effect=None,
            error=None,
            link=None,
            link_kind=None,
            code=None,
            wait_s=None,
            thumb=None,
            qr=None,
        )
    else:
        return None
    view["session"] = {
        "layout": session.layout,
        "shots": session.shots,
        "taken": len(frames),
        "state": session.state,
        "ended": session.ended,
        "frames": [job_view(src, f, base, links) for f in frames],
    }
    return view


def _entries(src: Sources, start: float | None, offset: int, limit: int) -> list[Entry]:
    """One page of the event's lines: photos of their own and strip sessions."""
    if start is None:
        return []
    if src.strips is None:
        rows = src.ledger.page_since(start, offset, limit)
        return [Entry("job", r.job_id, r.created_at) for r in rows]
    return src.strips.entries_since(start, offset, limit)


def state(src: Sources, page: int = 1, per_page: int = PER_PAGE) -> dict:
    """Everything the dashboard shows, for one page of photos (newest first); a strip
    session is one entry with its frames."""
    stats = event_stats(src.cfg, src.ledger, uploads_pending(src))
    per_page = max(1, min(MAX_PER_PAGE, per_page))
    lines = stats.photos
    if src.strips is not None and stats.start is not None:
        lines = src.strips.count_entries_since(stats.start)
    pages = max(1, -(-lines // per_page))
    page = max(1, min(page, pages))
    entries = _entries(src, stats.start, (page - 1) * per_page, per_page)
    ids = [e.id for e in entries]
    links = src.uploads.links(ids) if src.uploads is not None else {}
    base = public_base_url(src.cfg)
    photo_prints = printing.photo_prints(src.prints, ids)
    jobs = []
    for e in entries:
        if e.kind == "session":
            view = session_view(src, e.id, base, links)
        else:
            row = src.ledger.get(e.id)
            view = job_view(src, row, base, links) if row is not None else None
        if view is not None:
            jobs.append(view)
    for job in jobs:
        job["prints"] = photo_prints.get(job["id"]) if src.prints is not None else None
    return {
        "booth": src.cfg.booth_id,
        "title": src.cfg.kiosk.title,
        "health": health_view(src),
        "event": {**stats.to_dict(), "label": event_label(stats)},
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "jobs": jobs,
        "printer": printing.printer_view(
            src.cfg, src.board.parts(printer=src.cfg.print.enabled), src.ledger, src.prints
        ),
    }


# ---------------------------------------------------------------------------- the zip
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def zip_name(cfg: Config, stats: EventStats) -> str:
    title = _SAFE.sub("-", cfg.kiosk.title).strip("-")[:40] or "booth"
    day = time.strftime("%Y-%m-%d", time.localtime(stats.start or time.time()))
    return f"{title}-{day}.zip"


def _session_names(src: Sources, start: float) -> dict[str, str]:
    """job id → its name in the zip without the extension, for the sheets and frames of the
    event's strip sessions: `strips/2026-11-21-203512-ab12cd34/` holds `strip` (or `grid`)
    and `1-drip`, `2-drip` … (`-drip`, the frame's style, is added by the caller)."""
    out: dict[str, str] = {}
    if src.strips is None:
        return out
    for s in src.strips.since(start):
        stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(s.created_at))
        folder = f"strips/{stamp}-{s.session_id[:8]}/"
        out[s.session_id] = folder + s.layout
        for n, job_id in src.strips.frame_ids(s.session_id):
            out[job_id] = f"{folder}{n}-"
    return out


def zip_members(src: Sources, start: float | None) -> Iterator[Member]:
    """Every picture of the event (oldest first), and the original of each job without one,
    named by local time so the archive sorts as the event went (`drip-2026-11-21-203512-ab12cd34
    .jpg`); a strip session is one folder with its sheet and its frames. Rows are read one at
    a time (an event has thousands)."""
    if start is None:
        return
    in_session = _session_names(src, start)
    for job_id in src.ledger.ids_since(start):
        row = src.ledger.get(job_id)
        if row is None or is_expired(row, src.cfg.retention_days, src.lookup.clock):
            continue
        stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(row.created_at))
        style = _SAFE.sub("-", row.style.lower()).strip("-")[:24] or "photo"
        named = in_session.get(job_id)  # a frame's ends in "-": its style or "original" follows
        if row.result_path:
            rel = row.result_path
            ext = ".png" if rel.lower().endswith(".png") else ".jpg"
            name = f"{style}-{stamp}-{row.job_id[:8]}{ext}"
            if named is not None:
                name = f"{named}{style if named.endswith('-') else ''}{ext}"
        elif row.status.value == "failed":
            rel, name = row.original_path, f"originals/{stamp}-{row.job_id[:8]}.jpg"
            if named is not None:
                name = f"{named}original.jpg"
        else:
            continue
        path = resolve_in_store(src.cfg.data_dir, rel)
        if path is not None:
            yield Member(name, Path(path))


# ---------------------------------------------------------------------------- delete
async def delete_job(src: Sources, job_id: str, mqtt: Any, uploader: Any = None) -> bool:
    """Delete one job for good, or a strip session with its sheet and its frames; True when it
    was there."""
    from jobstore.retention import RetentionReport, delete_jobs

    rows: list[JobRow] = []

    def delete() -> RetentionReport | None:  # the ledger and the disk: off the event loop
        row = src.ledger.get(job_id)
        rows.extend([row] if row is not None else [])
        if src.strips is not None:
            rows.extend(src.strips.frames(job_id))  # a session's frames; none for a photo
        return delete_jobs(src.cfg, src.ledger, rows, mqtt, mqtt_timeout_s=5.0) if rows else None

    report = await asyncio.get_running_loop().run_in_executor(None, delete)
    if report is None:
        return False
    if uploader is not None:
        uploader.wake()  # its cloud copies go now, not at the next sweep
    log.info(
        "share: the operator deleted job %s (%d files%s)",
        job_id,
        report.files_deleted,
        "; its retained messages will be cleared later" if report.clears_pending else "",
    )
    return bool(set(report.job_ids) & {r.job_id for r in rows})
