"""Links and retention when the wall clock jumps (a Pi 4 has no RTC).

An injected clock plays the Pi: its wall clock can be weeks off until NTP syncs and then jumps,
its boot time only moves forward, and a reboot gives a new boot id. Jobs are recorded the way
the kiosk records them (kiosk/jobs/controller.py: the shot's BootStamp), served by the share
server's PhotoLookup and deleted by the share server's retention.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from booth.clock import stamp
from booth.protocol import Effect, JobStatus, Status, new_job_id
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.retention import run_retention
from share.lookup import PhotoLookup
from tests.share.helpers import PORTRAIT

DAY = 86400.0
T0 = 1_795_000_000.0  # the true time of the event (November 2026)


class PiClock:
    """Wall clock (settable, may be wrong), boot clock (monotonic), boot id, NTP state."""

    def __init__(self, wall: float, synced: bool) -> None:
        self.wall, self.boot, self.synced = wall, 50.0, synced
        self.boot_id = uuid.uuid4().hex

    def now(self) -> float:
        return self.wall

    def boot_now(self) -> float:
        return self.boot

    def synchronized(self) -> bool:
        return self.synced

    def run(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self.wall += seconds
        self.boot += seconds

    def jump(self, seconds: float, synced: bool = True) -> None:
        """The wall clock is set (NTP, a wrong RTC …); boot time does not move."""
        self.wall += seconds
        self.synced = synced

    def reboot(self, wall: float, synced: bool = False) -> None:
        self.boot_id, self.boot, self.wall, self.synced = uuid.uuid4().hex, 5.0, wall, synced


@pytest.fixture
def booth(share_cfg):
    cfg = share_cfg("retention_days = 7\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    yield cfg, ledger
    ledger.close()


def shoot(cfg, ledger: Ledger, clock: PiClock) -> tuple[str, str, list[Path]]:
    """A finished job recorded as the kiosk records it, at the clock's idea of now."""
    job_id = new_job_id()
    created = clock.now()
    folder = photo_dir(cfg.data_dir, created)
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{job_id}{s}.jpg" for s in ("", "-ai", "-result")]
    for f in files:
        f.write_bytes(PORTRAIT.read_bytes())
    rel = [str(f.relative_to(cfg.data_dir)) for f in files]
    ledger.insert_pending(
        job_id,
        cfg.booth_id,
        "drip",
        created,
        "2026-11-24T10:00:00Z",
        rel[0],
        rel[1],
        stamp=stamp(clock),
    )
    ledger.apply_status(
        Status(
            job_id=job_id, booth_id=cfg.booth_id, status=JobStatus.COMPLETED, effect=Effect.LOCAL
        ),
        created,
    )
    token = ledger.store_result(job_id, rel[2])
    assert token is not None, "the job had a result already"
    return job_id, token, files


def link_works(cfg, ledger, clock, token) -> bool:
    return PhotoLookup(ledger, cfg.data_dir, cfg.retention_days, clock).find(token) is not None


def deleted(cfg, ledger, clock) -> list[str]:
    return run_retention(cfg, ledger, None, clock=clock).job_ids


def test_clock_three_weeks_behind_then_ntp_jumps_forward(booth):
    """Offline event: the Pi boots 21 days in the past; hours later Wi-Fi brings NTP."""
    cfg, ledger = booth
    clock = PiClock(T0 - 21 * DAY, synced=False)
    job, token, files = shoot(cfg, ledger, clock)
    clock.run(3600)
    assert link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == []  # not synchronized: retention deletes nothing
    clock.jump(21 * DAY, synced=True)  # NTP: the photo now *looks* 21 days old
    assert link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == []
    row = ledger.get(job)
    assert row.clock_ok and abs(row.created_at - (clock.now() - 3600)) < 1  # its true time
    clock.run(7 * DAY - 2 * 3600)  # just under retention_days of uptime since the shot
    assert link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == []
    clock.run(2 * 3600)
    assert not link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == [job]
    assert not any(f.exists() for f in files)


def test_clock_jumps_back_a_year(booth):
    """A synchronized shot, then the wall clock falls back a year (a reset RTC, a bad NTP
    answer): links still expire after retention_days of uptime, never later and never sooner;
    retention waits while the clock is not synchronized."""
    cfg, ledger = booth
    clock = PiClock(T0, synced=True)
    job, token, files = shoot(cfg, ledger, clock)
    clock.jump(-365 * DAY, synced=False)
    clock.run(6 * DAY)
    assert link_works(cfg, ledger, clock, token)
    clock.run(2 * DAY)  # 8 days of uptime: expired, whatever the wall clock says
    assert not link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == []  # but nothing goes while unsynchronized
    assert all(f.exists() for f in files)
    clock.jump(365 * DAY, synced=True)
    assert deleted(cfg, ledger, clock) == [job]


def test_a_year_behind_while_shooting_then_synchronized_as_the_photos_are_fresh(booth):
    """Shot while the clock was a year *ahead*: the jump back must not keep them forever."""
    cfg, ledger = booth
    clock = PiClock(T0 + 365 * DAY, synced=False)
    job, token, _ = shoot(cfg, ledger, clock)
    clock.run(600)
    clock.jump(-365 * DAY, synced=True)
    assert deleted(cfg, ledger, clock) == []
    assert abs(ledger.get(job).created_at - (T0 + 0)) < 1
    clock.run(7 * DAY)
    assert deleted(cfg, ledger, clock) == [job]


def test_shots_of_an_earlier_boot_that_never_synchronized(booth):
    """A power cut mid-event: boot 1 never saw network time; boot 2 does. Boot 1's photos must
    not look weeks old (their exact time is unknowable: their age is never overstated)."""
    cfg, ledger = booth
    clock = PiClock(T0 - 21 * DAY, synced=False)
    job, token, files = shoot(cfg, ledger, clock)
    clock.run(1800)
    last, _, _ = shoot(cfg, ledger, clock)
    clock.reboot(wall=T0 - 21 * DAY + 600)  # the restored clock: roughly the last shutdown
    assert link_works(cfg, ledger, clock, token)  # age unknown, not expired
    clock.run(3600)
    clock.jump(21 * DAY, synced=True)
    assert link_works(cfg, ledger, clock, token)
    assert deleted(cfg, ledger, clock) == []
    first, second = ledger.get(job), ledger.get(last)
    assert first.clock_ok and second.clock_ok
    assert abs((second.created_at - first.created_at) - 1800) < 1  # their order and spacing
    assert second.created_at <= clock.now() - clock.boot_now()  # before this boot began
    clock.run(7 * DAY)
    assert not link_works(cfg, ledger, clock, token)
    assert sorted(deleted(cfg, ledger, clock)) == sorted([job, last])
    assert not any(f.exists() for f in files)


def test_migration_from_version_1(tmp_path):
    """Schema v1 → v2: old rows keep created_at and count as trustworthy wall times."""
    from jobstore.schema import V1, VERSION

    path = tmp_path / "l.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO jobs (job_id, booth_id, style, created_at, created_iso, status, "
        "updated_at, original_path, ai_path) VALUES "
        "('job00000001', 'b1', 'drip', 1000.0, 'x', 'completed', 1000.0, 'a', 'b')"
    )
    db.commit()
    db.close()
    ledger = Ledger(path)
    try:
        row = ledger.get("job00000001")
        assert row.created_at == 1000.0 and row.clock_ok and row.boot_id is None
    finally:
        ledger.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
    db.close()
