"""`/metrics`: the dashboard's numbers in Prometheus text format (version 0.0.4).

Gauges for the event (its photos by outcome, what went wrong by kind, the wait from shot to
picture as a summary with its median and p95, the uploads waiting, with `[print]` its prints by
state, the prints left of its paper and the printer's problems) and for every part's health
(up, state, the workers' AI state, the kiosk's free space); counters for what each worker has
done since it started (they reset when it restarts, which Prometheus' rate() expects). Every
series carries `booth`, so one Prometheus can scrape a fleet
(docs/operations.md, Scraping a fleet). Written by hand: the format is a few lines of text, and
the share process stays small.
"""

from __future__ import annotations

from booth.healthboard import LEVEL_RANK
from jobstore.stats import event_stats
from share import printing
from share.dashboard import Sources, uploads_pending


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**kw: object) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in kw.items()) + "}"


def _num(v: float | int) -> str:
    return repr(float(v)) if isinstance(v, float) else str(v)


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_: str) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float | int, **labels: object) -> None:
        self.lines.append(f"{name}{_labels(**labels)} {_num(value)}")


def render(src: Sources) -> str:
    booth = src.cfg.booth_id
    stats = event_stats(src.cfg, src.ledger, uploads_pending(src))
    o = _Out()
    o.family(
        "booth_event_start_timestamp_seconds",
        "gauge",
        "When the event the other booth_event_* series count began (unix time; 0: none)",
    )
    o.sample("booth_event_start_timestamp_seconds", stats.start or 0, booth=booth)
    o.family("booth_event_photos", "gauge", "Shots in the event by outcome")
    for outcome, n in (
        ("ai", stats.ai),
        ("local", stats.local),
        ("failed", stats.failed),
        ("in_progress", stats.in_progress),
    ):
        o.sample("booth_event_photos", n, booth=booth, outcome=outcome)
    o.family("booth_event_shots", "gauge", "Shots in the event (every job)")
    o.sample("booth_event_shots", stats.photos, booth=booth)
    o.family(
        "booth_event_fallbacks",
        "gauge",
        "Pictures of the event the local effect made instead of the AI, by why",
    )
    for kind, n in sorted(stats.fallbacks.items()):
        o.sample("booth_event_fallbacks", n, booth=booth, kind=kind)
    o.family("booth_event_failures", "gauge", "Shots of the event that got no picture, by why")
    for kind, n in sorted(stats.failures.items()):
        o.sample("booth_event_failures", n, booth=booth, kind=kind)
    o.family("booth_event_wait_seconds", "summary", "Seconds from the shot to its picture")
    for q, v in (("0.5", stats.wait_p50_s), ("0.95", stats.wait_p95_s)):
        if v is not None:
            o.sample("booth_event_wait_seconds", v, booth=booth, quantile=q)
    o.sample("booth_event_wait_seconds_sum", stats.wait_sum_s, booth=booth)
    o.sample("booth_event_wait_seconds_count", stats.waits, booth=booth)
    if stats.uploads_pending is not None:
        o.family("booth_uploads_pending", "gauge", "Pictures waiting for their cloud upload")
        o.sample("booth_uploads_pending", stats.uploads_pending, booth=booth)

    parts = src.board.parts(cloud=src.cfg.cloud.enabled, printer=src.cfg.print.enabled)
    listed = [p for p in parts if p.part != "workers"]
    o.family("booth_part_up", "gauge", "1 when the part says it is online")
    for p in listed:
        o.sample("booth_part_up", 1 if p.online else 0, booth=booth, part=p.part, id=p.id)
    o.family("booth_part_health", "gauge", "0 ok, 1 warn (or no word yet), 2 error")
    for p in listed:
        o.sample("booth_part_health", LEVEL_RANK[p.level], booth=booth, part=p.part, id=p.id)
    o.family("booth_workers_online", "gauge", "Workers that say they are online")
    o.sample(
        "booth_workers_online",
        sum(1 for p in parts if p.part == "worker" and p.online),
        booth=booth,
    )
    o.family("booth_health", "gauge", "The worst part: 0 ok, 1 warn, 2 error")
    o.sample("booth_health", LEVEL_RANK[src.board.worst(parts)], booth=booth)

    workers = [(p.id, p.health) for p in parts if p.part == "worker" and p.health is not None]
    o.family("booth_worker_ai_state", "gauge", "1 for the AI state a worker reports")
    for wid, health in workers:
        if health.ai:
            o.sample("booth_worker_ai_state", 1, booth=booth, worker=wid, state=health.ai)
    o.family("booth_worker_jobs_in_flight", "gauge", "Jobs a worker is working on")
    for wid, health in workers:
        o.sample("booth_worker_jobs_in_flight", health.jobs_in_flight, booth=booth, worker=wid)
    o.family("booth_worker_jobs", "counter", "Jobs a worker finished since it started")
    for wid, health in workers:
        for outcome, n in sorted(health.counts.items()):
            o.sample("booth_worker_jobs_total", n, booth=booth, worker=wid, outcome=outcome)

    kiosk = next((p.health for p in parts if p.part == "kiosk" and p.health is not None), None)
    if kiosk is not None:
        extra = kiosk.extra
        if extra.get("disk_free_mb") is not None:
            o.family("booth_disk_free_bytes", "gauge", "Free space for photos on the booth")
            o.sample("booth_disk_free_bytes", int(extra["disk_free_mb"]) * 1024 * 1024, booth=booth)
        cam = extra.get("camera") or {}
        o.family("booth_camera_live", "gauge", "1 while the booth's camera delivers frames")
        o.sample("booth_camera_live", 1 if cam.get("state") == "live" else 0, booth=booth)
    for name, kind, help_, samples in printing.metric_lines(src.cfg, parts, src.ledger, src.prints):
        o.family(name, kind, help_)
        for value, labels in samples:
            o.sample(name, value, booth=booth, **labels)
    return "\n".join(o.lines) + "\n"
