"""The ledger rebuild against bad input: a retained status no parser can read is skipped and
every good job keeps its status and link; a rebuild that fails half-way leaves the damaged
ledger where it was, so the next start tries again instead of opening an empty one."""

from __future__ import annotations

import os

import paho.mqtt.client as paho
import pytest

from booth.protocol import JobStatus
from jobstore import recovery
from jobstore.ledger import ledger_path
from jobstore.recovery import check_ledger, open_ledger
from share.lookup import PhotoLookup
from tests.jobstore.test_recovery import make_store, publish_retained

BAD_PAYLOADS = {
    "nested": b"[" * 1000,
    "retry-past-float": (
        b'{"job_id":"%s","booth_id":"%s","status":"failed","effect":null,"attempt":1,'
        b'"worker":null,"error":{"kind":"quota","message":"m","retry_after_s":1'
        + b"0" * 309
        + b'},"updated_at":"2026-12-01T12:00:00.000Z"}'
    ),
    "not-json": b"\xff\xfe garbage",
}


def publish_raw(broker, items: dict[str, bytes]) -> None:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="t-raw", protocol=paho.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        for topic, payload in items.items():
            c.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def damage(cfg) -> bytes:
    path = ledger_path(cfg.data_dir)
    damaged = os.urandom(path.stat().st_size)
    path.write_bytes(damaged)
    return damaged


def test_a_retained_status_no_parser_reads_is_skipped_and_every_good_job_kept(make_config, broker):
    cfg = make_config()
    jobs, statuses = make_store(cfg)
    publish_retained(broker, statuses)
    # the waiting job's own topic carries a status that cannot be read, and so do others
    bad = {f"booth/{cfg.booth_id}/status/{jobs['waiting'].job_id}": BAD_PAYLOADS["nested"]}
    for name, payload in BAD_PAYLOADS.items():
        job_id = f"badjob-{name}"
        bad[f"booth/{cfg.booth_id}/status/{job_id}"] = (
            payload.replace(b"%s", job_id.encode(), 1).replace(b"%s", cfg.booth_id.encode(), 1)
            if b"%s" in payload
            else payload
        )
    publish_raw(broker, bad)
    damage(cfg)

    ledger = open_ledger(cfg)
    try:
        assert ledger.count() == 5
        lookup = PhotoLookup(ledger, cfg.data_dir, cfg.retention_days)
        assert lookup.find(jobs["done"].token).path == jobs["done"].result
        assert ledger.get(jobs["done"].job_id).effect == "local"  # its status was read
        assert ledger.get(jobs["failed"].job_id).status is JobStatus.FAILED
        # the unreadable status was left out: that job comes back from the photo store alone
        assert ledger.get(jobs["waiting"].job_id).status is JobStatus.PENDING
    finally:
        ledger.close()
    (rec,) = recovery.recoveries(cfg.data_dir)
    assert rec.broker == "read" and rec.with_status == 2 and rec.jobs == 5


def test_a_rebuild_that_fails_leaves_the_damaged_ledger_for_the_next_start(share_cfg, monkeypatch):
    cfg = share_cfg()
    jobs, _ = make_store(cfg)
    damaged = damage(cfg)
    path = ledger_path(cfg.data_dir)

    def broken(*args, **kwargs):
        raise RuntimeError("the photo store could not be read")

    monkeypatch.setattr(recovery, "rows_from_store", broken)
    with pytest.raises(RuntimeError):
        open_ledger(cfg, broker=False)
    assert path.read_bytes() == damaged and check_ledger(path)  # still there, still damaged
    assert not list(path.parent.glob("ledger.corrupt-*"))
    assert not list(path.parent.glob("*.rebuilding*"))

    monkeypatch.undo()
    ledger = open_ledger(cfg, broker=False)
    try:
        assert ledger.count() == 5
        lookup = PhotoLookup(ledger, cfg.data_dir, cfg.retention_days)
        assert lookup.find(jobs["done"].token).path == jobs["done"].result
    finally:
        ledger.close()
    (kept,) = path.parent.glob("ledger.corrupt-*.sqlite")
    assert kept.read_bytes() == damaged
