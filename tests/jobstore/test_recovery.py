"""A damaged ledger: found at start, kept aside, rebuilt from the photo store and the broker's
retained statuses, guests' links unchanged; two processes starting together rebuild once."""

from __future__ import annotations

import os
import shutil
import threading
import time

import paho.mqtt.client as paho
import pytest

from appliance import doctor
from booth.protocol import Effect, ErrorKind, JobError, JobStatus, Status
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.recovery import check_ledger, open_ledger, recoveries
from share.lookup import PhotoLookup
from tests.share.helpers import PORTRAIT, add_job

DAMAGE = {
    "garbage": lambda raw: os.urandom(len(raw)),
    "truncated": lambda raw: raw[: len(raw) // 2],
    "zeroed_header": lambda raw: b"\0" * 100 + raw[100:],
    "empty": lambda raw: b"",
}


def publish_retained(broker, statuses: list[Status]) -> None:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="t-statuses", protocol=paho.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        for st in statuses:
            c.publish(
                f"booth/{st.booth_id}/status/{st.job_id}", st.to_json(), qos=1, retain=True
            ).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def make_store(cfg):
    """The jobs a booth has after a while, as the kiosk writes them (files, rows, statuses)."""
    led = Ledger(ledger_path(cfg.data_dir))
    try:
        done = add_job(cfg, led)
        failed = add_job(cfg, led, status=JobStatus.FAILED)
        waiting = add_job(cfg, led, status=JobStatus.PENDING)
        lost = add_job(cfg, led, status=JobStatus.PENDING, created_at=time.time() - 7200)
        for f in lost.files:  # photos from two hours ago: no result ever came
            os.utime(f, (lost.created_at, lost.created_at))
        # a result stored before tokens were part of file names
        legacy = add_job(cfg, led, with_result=False)
        legacy_file = photo_dir(cfg.data_dir, legacy.created_at) / f"{legacy.job_id}-result.jpg"
        shutil.copyfile(PORTRAIT, legacy_file)
        rel = str(legacy_file.relative_to(cfg.data_dir))
        legacy.token = led.store_result(legacy.job_id, rel)
        legacy.result = legacy_file
    finally:
        led.close()
    statuses = [
        Status(done.job_id, cfg.booth_id, JobStatus.COMPLETED, effect=Effect.LOCAL, worker="w1"),
        Status(
            failed.job_id,
            cfg.booth_id,
            JobStatus.FAILED,
            worker="w1",
            error=JobError.for_guest(ErrorKind.SAFETY),
        ),
        Status(waiting.job_id, cfg.booth_id, JobStatus.PROCESSING, worker="w2"),
        Status("otherbooth0001", "elsewhere", JobStatus.COMPLETED),  # another booth's
    ]
    return {
        "done": done,
        "failed": failed,
        "waiting": waiting,
        "lost": lost,
        "legacy": legacy,
    }, statuses


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_ledger_is_kept_aside_and_rebuilt_with_every_link(make_config, broker, damage):
    cfg = make_config()
    jobs, statuses = make_store(cfg)
    publish_retained(broker, statuses)
    path = ledger_path(cfg.data_dir)
    damaged = DAMAGE[damage](path.read_bytes())
    path.write_bytes(damaged)
    problem = check_ledger(path)
    assert problem, "the check must see the damage"
    assert doctor.check_ledger(cfg, doctor.Probe()).level == doctor.FAIL

    ledger = open_ledger(cfg)
    try:
        assert check_ledger(path) is None
        kept = list(path.parent.glob("ledger.corrupt-*.sqlite"))
        assert len(kept) == 1 and kept[0].read_bytes() == damaged
        # links on guests' phones still lead to their pictures
        lookup = PhotoLookup(ledger, cfg.data_dir, cfg.retention_days)
        for name in ("done",):
            photo = lookup.find(jobs[name].token)
            assert photo is not None and photo.path == jobs[name].result
        # statuses come back from the broker
        assert ledger.get(jobs["done"].job_id).effect == "local"
        row = ledger.get(jobs["failed"].job_id)
        assert row.status is JobStatus.FAILED and row.error.kind is ErrorKind.SAFETY
        assert ledger.get(jobs["waiting"].job_id).status is JobStatus.PROCESSING
        # no result, no status, two hours old: it is not coming any more
        row = ledger.get(jobs["lost"].job_id)
        assert row.status is JobStatus.FAILED and row.error.kind is ErrorKind.INTERNAL
        assert abs(row.created_at - jobs["lost"].created_at) < 2
        # the old-style result gets a working link of its own
        legacy = ledger.get(jobs["legacy"].job_id)
        assert legacy.token and legacy.token != jobs["legacy"].token
        assert lookup.find(legacy.token).path == jobs["legacy"].result
        assert ledger.count() == 5
        assert ledger.get("otherbooth0001") is None
    finally:
        ledger.close()
    (rec,) = recoveries(cfg.data_dir)
    assert (rec.jobs, rec.with_status, rec.links_kept, rec.links_new, rec.broker) == (
        5,
        3,
        1,
        1,
        "read",
    )
    assert rec.problem == problem and rec.moved_to == kept[0].name
    c = doctor.check_ledger(cfg, doctor.Probe())
    assert c.level == doctor.WARN and "rebuilt" in c.found and kept[0].name in c.found


def test_a_sound_ledger_is_left_alone(make_config):
    cfg = make_config()
    jobs, _ = make_store(cfg)
    before = ledger_path(cfg.data_dir).read_bytes()
    ledger = open_ledger(cfg, broker=False)
    try:
        assert ledger.count() == 5
        assert ledger.by_token(jobs["legacy"].token).job_id == jobs["legacy"].job_id
    finally:
        ledger.close()
    assert not list(ledger_path(cfg.data_dir).parent.glob("ledger.corrupt-*"))
    assert recoveries(cfg.data_dir) == []
    assert ledger_path(cfg.data_dir).read_bytes()[:100] == before[:100]
    assert doctor.check_ledger(cfg, doctor.Probe()).level == doctor.OK


def test_no_broker_rebuilds_from_the_photo_store_alone(share_cfg):
    cfg = share_cfg()  # the broker URL refuses at once
    jobs, _ = make_store(cfg)
    ledger_path(cfg.data_dir).write_bytes(b"this is not a database" * 100)
    ledger = open_ledger(cfg)
    try:
        assert ledger.by_token(jobs["done"].token).job_id == jobs["done"].job_id
        # without the broker: a job with a result is completed, a recent one without waits
        assert ledger.get(jobs["done"].job_id).status is JobStatus.COMPLETED
        assert ledger.get(jobs["waiting"].job_id).status is JobStatus.PENDING
    finally:
        ledger.close()
    (rec,) = recoveries(cfg.data_dir)
    assert rec.broker == "unreachable" and rec.jobs == 5


def test_two_processes_starting_together_rebuild_once(share_cfg):
    cfg = share_cfg()
    jobs, _ = make_store(cfg)
    ledger_path(cfg.data_dir).write_bytes(b"\0" * 8192)
    opened: list[Ledger] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_ledger(cfg, broker=False))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    try:
        assert [led.count() for led in opened] == [5, 5]
        assert opened[1].by_token(jobs["done"].token) is not None
    finally:
        for led in opened:
            led.close()
    assert len(recoveries(cfg.data_dir)) == 1
    assert len(list(ledger_path(cfg.data_dir).parent.glob("ledger.corrupt-*.sqlite"))) == 1
