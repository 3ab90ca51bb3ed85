"""A strip session's record in the photo store (jobstore/sessionrecord.py) and what a ledger
rebuild does with it: groups the frames that came back, leaves out a record whose frames are
gone or that cannot be read (every job still comes back), and a deleted sheet takes its record.
The whole path through the kiosk is tests/kiosk/test_strip.py."""

from __future__ import annotations

import json
import logging
import time

from hypothesis import example, given
from hypothesis import strategies as st

import tests.support.properties  # noqa: F401  (the Hypothesis profile)
from booth.protocol import new_job_id
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.recovery import open_ledger, recoveries
from jobstore.retention import delete_jobs
from jobstore.sessionrecord import SessionRecord, read_records, write_record
from jobstore.sessions import CLOSED, Sessions
from tests.share.helpers import add_job


def _record(cfg, frames: list[str], sid: str | None = None) -> SessionRecord:
    return SessionRecord(
        sid or new_job_id(),
        cfg.booth_id,
        "gold",
        "grid",
        4,
        False,
        time.time() - 30,
        None,
        tuple((n, j) for n, j in enumerate(frames, 1)),
    )


def _damage(cfg) -> None:
    ledger_path(cfg.data_dir).write_bytes(b"\x13 garbage " * 400)


def test_a_record_reads_back_as_written(share_cfg, tmp_path):
    cfg = share_cfg("")
    rec = _record(cfg, [new_job_id(), new_job_id()])
    path = write_record(cfg.data_path, rec)
    assert path.parent == photo_dir(cfg.data_dir, rec.created_at)
    assert read_records(cfg.data_path) == [rec]


def test_the_rebuild_keeps_the_frames_that_came_back_and_skips_what_it_cannot_use(
    share_cfg, caplog
):
    cfg = share_cfg("")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        jobs = [add_job(cfg, ledger, created_at=time.time() - 20 + n) for n in range(3)]
    finally:
        ledger.close()
    # a session of which frames 1 and 3 came back (2 was never stored), not composed yet
    kept = _record(cfg, [jobs[0].job_id, new_job_id(), jobs[1].job_id])
    write_record(cfg.data_path, kept)
    gone = _record(cfg, [new_job_id(), new_job_id()])  # its frames were deleted
    write_record(cfg.data_path, gone)
    bad = _record(cfg, [jobs[2].job_id])
    path = write_record(cfg.data_path, bad)
    path.write_bytes(b'{"v": 1, "session_id": ')  # cut short by a power cut
    _damage(cfg)

    with caplog.at_level(logging.WARNING, logger="jobstore.sessionrecord"):
        ledger = open_ledger(cfg, broker=False)
    store = Sessions(ledger_path(cfg.data_dir))
    try:
        assert recoveries(cfg.data_dir)[-1].sessions == 1
        assert all(ledger.get(j.job_id) is not None for j in jobs)  # every job came back
        row = store.get(kept.session_id)
        assert row is not None and row.state == CLOSED and row.ended == "restart"
        assert (row.layout, row.style) == ("grid", "gold")
        assert store.frame_ids(kept.session_id) == [(1, jobs[0].job_id), (3, jobs[1].job_id)]
        assert store.get(gone.session_id) is None and store.get(bad.session_id) is None
        assert store.of_job(jobs[2].job_id) is None  # a photo of its own
        assert any(bad.session_id in r.getMessage() for r in caplog.records)
    finally:
        store.close()
        ledger.close()


def test_deleting_a_sheet_deletes_its_record(share_cfg):
    cfg = share_cfg("")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        sheet = add_job(cfg, ledger)  # stands in for a sheet: its job id is its session's
        frame = add_job(cfg, ledger)
        row = ledger.get(sheet.job_id)
        rec = _record(cfg, [frame.job_id], sid=sheet.job_id)
        rec = SessionRecord(**{**rec.__dict__, "created_at": row.created_at})
        path = write_record(cfg.data_path, rec)
        assert path.is_file()
        delete_jobs(cfg, ledger, [row])
        assert not path.exists()
        assert ledger.get(frame.job_id) is not None
    finally:
        ledger.close()


@given(st.binary(max_size=400))
def test_reading_any_bytes_as_a_record_raises_only_value_error(data):
    try:
        SessionRecord.from_json(data)
    except ValueError:
        pass


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_FIELDS = ("session_id", "booth_id", "style", "layout", "shots", "portrait", "created_at")


@given(st.fixed_dictionaries({k: _ANY for k in (*_FIELDS, "ended", "frames")}))
@example(  # int(inf) raises OverflowError, not ValueError
    {**dict.fromkeys(_FIELDS, "x"), "shots": float("inf"), "ended": None, "frames": []}
)
def test_reading_any_json_as_a_record_raises_only_value_error(fields):
    """Every field there, each of any JSON type or shape."""
    try:
        SessionRecord.from_json(json.dumps({"v": 1, **fields}).encode())
    except ValueError:
        pass
