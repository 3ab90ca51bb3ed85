"""Retention on a real broker: exactly the old jobs' files, rows and retained messages go."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho

from booth.mqtt import MqttConnection, wait_for
from booth.protocol import JobStatus, Status, Topics
from jobstore.ledger import Ledger, ledger_path
from jobstore.retention import PENDING_FILE, run_retention
from tests.share.helpers import add_job
from tests.support.mqtt_tools import Recorder

DAY = 86400


def _publish_retained(mqtt: MqttConnection, cfg, job_id: str) -> None:
    topics = Topics(cfg.mqtt.root)
    st = Status(job_id=job_id, booth_id=cfg.booth_id, status=JobStatus.PROCESSING, worker="w1")
    assert mqtt.publish_wait(topics.status(cfg.booth_id, job_id), st.to_json(), 10, retain=True)
    assert mqtt.publish_wait(topics.results(cfg.booth_id, job_id), b"\xff\xd8jpeg", 10, retain=True)


def _retained_jobs(broker, cfg) -> set[str]:
    """Job ids that still have a retained status or result on the broker."""
    rec = Recorder(broker.port, [f"{cfg.mqtt.root}/{cfg.booth_id}/#"])
    try:
        marker = f"{cfg.mqtt.root}/{cfg.booth_id}/marker-{uuid.uuid4().hex}"
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        c.publish(marker, b"x", qos=1).wait_for_publish(10)
        c.disconnect()
        c.loop_stop()
        # retained messages are sent on subscribe, before anything published after it
        assert rec.wait(lambda ms: any(m.topic == marker for m in ms), 10)
        return {
            m.topic.rsplit("/", 1)[1]
            for m in rec.messages
            if m.retain and m.payload and ("/status/" in m.topic or "/results/" in m.topic)
        }
    finally:
        rec.close()


def _setup(cfg, ledger):
    now = time.time()
    old = [
        add_job(cfg, ledger, created_at=now - 8 * DAY),
        add_job(cfg, ledger, created_at=now - 30 * DAY, status=JobStatus.FAILED),
        add_job(cfg, ledger, created_at=now - 7 * DAY - 60, status=JobStatus.PENDING),
    ]
    new = [
        add_job(cfg, ledger, created_at=now - 6 * DAY),
        add_job(cfg, ledger, created_at=now - 60),
        add_job(cfg, ledger, created_at=now - 6 * DAY, status=JobStatus.PENDING),
    ]
    return now, old, new


def test_retention_removes_exactly_the_old_jobs(make_config, broker):
    cfg = make_config("retention_days = 7\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    mqtt = MqttConnection(cfg.mqtt.url, "test-retention").start()
    try:
        assert mqtt.wait_connected(10)
        now, old, new = _setup(cfg, ledger)
        # a file that belongs to no job, in an old job's day folder: not retention's to delete
        stray = old[0].files[0].parent / "operator-notes.txt"
        stray.write_text("keep me")
        for job in old + new:
            _publish_retained(mqtt, cfg, job.job_id)
        assert _retained_jobs(broker, cfg) == {j.job_id for j in old + new}

        report = run_retention(cfg, ledger, mqtt, now=now)

        assert sorted(report.job_ids) == sorted(j.job_id for j in old)
        assert report.rows_deleted == 3
        assert report.files_deleted == sum(len(j.files) for j in old) == 7
        assert report.topics_cleared == 6 and report.clears_pending == 0
        assert report.errors == []
        for job in old:
            assert ledger.get(job.job_id) is None
            assert not any(f.exists() for f in job.files)
        for job in new:
            assert ledger.get(job.job_id) is not None
            assert all(f.exists() for f in job.files)
        assert stray.read_text() == "keep me"
        assert ledger.count() == 3
        # the 30-day-old job's folder became empty and is gone; the stray file's folder stays
        assert not old[1].files[0].parent.exists()
        assert stray.parent.is_dir()
        assert _retained_jobs(broker, cfg) == {j.job_id for j in new}
        assert not (Path(cfg.data_dir) / PENDING_FILE).exists()
        # a second run finds nothing to do
        again = run_retention(cfg, ledger, mqtt, now=now)
        assert again.job_ids == [] and again.files_deleted == 0
    finally:
        mqtt.stop()
        ledger.close()


def test_retention_with_broker_down_deletes_anyway_and_clears_later(make_config, broker):
    cfg = make_config("retention_days = 7\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    mqtt = MqttConnection(cfg.mqtt.url, "test-retention-down", reconnect_max_s=1.0).start()
    try:
        assert mqtt.wait_connected(10)
        now, old, new = _setup(cfg, ledger)
        for job in old + new:
            _publish_retained(mqtt, cfg, job.job_id)
        broker.stop()  # SIGTERM: mosquitto saves the retained messages
        assert wait_for(lambda: not mqtt.connected, 10)

        report = run_retention(cfg, ledger, mqtt, now=now, mqtt_timeout_s=2)
        assert sorted(report.job_ids) == sorted(j.job_id for j in old)
        for job in old:
            assert ledger.get(job.job_id) is None
            assert not any(f.exists() for f in job.files)
        assert report.topics_cleared == 0 and report.clears_pending == 3
        assert (Path(cfg.data_dir) / PENDING_FILE).exists()

        broker.start()
        assert mqtt.wait_connected(20)
        assert _retained_jobs(broker, cfg) == {j.job_id for j in old + new}  # still there
        later = run_retention(cfg, ledger, mqtt, now=now)
        assert later.job_ids == [] and later.topics_cleared == 6 and later.clears_pending == 0
        assert not (Path(cfg.data_dir) / PENDING_FILE).exists()
        assert _retained_jobs(broker, cfg) == {j.job_id for j in new}
    finally:
        mqtt.stop()
        ledger.close()


def test_retention_without_mqtt_still_deletes(share_cfg):
    cfg = share_cfg("retention_days = 1\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        old = add_job(cfg, ledger, created_at=time.time() - 2 * DAY)
        keep = add_job(cfg, ledger)
        report = run_retention(cfg, ledger, None)
        assert report.job_ids == [old.job_id] and report.clears_pending == 1
        assert ledger.get(old.job_id) is None and not old.result.exists()
        assert ledger.get(keep.job_id) is not None and keep.result.exists()
    finally:
        ledger.close()


def test_retention_never_deletes_outside_the_data_dir(share_cfg, tmp_path):
    cfg = share_cfg("retention_days = 1\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        victim = tmp_path / "victim.jpg"
        victim.write_bytes(b"do not delete")
        ledger.insert_pending(
            "evil-job-0001",
            cfg.booth_id,
            "drip",
            time.time() - 3 * DAY,
            "2026-01-01T00:00:00Z",
            "../victim.jpg",
            "/etc/hostname",
        )
        report = run_retention(cfg, ledger, None)
        assert victim.read_bytes() == b"do not delete"
        assert Path("/etc/hostname").exists()
        assert len(report.errors) == 2
    finally:
        ledger.close()


def test_share_app_runs_retention_periodically(make_config, serve):
    cfg = make_config("retention_days = 3\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        old = add_job(cfg, ledger, created_at=time.time() - 4 * DAY)
        keep = add_job(cfg, ledger)
        srv = serve(cfg, ledger=ledger, retention_every_s=0.2, retention_first_delay_s=0)
        assert wait_for(lambda: ledger.get(old.job_id) is None, 20)
        assert not old.result.exists()
        assert srv.get(f"/p/{keep.token}/photo.jpg")[0] == 200
        # a job that ages past the limit while the server runs goes on a later pass
        ledger.insert_pending(
            "late-job-0001",
            cfg.booth_id,
            "drip",
            time.time() - 4 * DAY,
            "2026-01-01T00:00:00Z",
            "photos/x.jpg",
            "photos/y.jpg",
        )
        assert wait_for(lambda: ledger.get("late-job-0001") is None, 20)
    finally:
        ledger.close()


def test_retained_messages_of_unknown_jobs_are_cleared_after_the_grace_period(make_config, broker):
    """Junk a rogue client left retained (statuses, results, topics that are not even job
    ids) goes after `share.orphan_grace_s`; the booth's own jobs keep theirs."""
    from jobstore.retention import ORPHANS_FILE

    cfg = make_config("[share]\norphan_grace_s = 600\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    mqtt = MqttConnection(cfg.mqtt.url, "test-orphans").start()
    try:
        assert mqtt.wait_connected(10)
        known = add_job(cfg, ledger)
        _publish_retained(mqtt, cfg, known.job_id)
        junk = [f"unknownjob{i:04d}" for i in range(30)]
        for j in junk:
            _publish_retained(mqtt, cfg, j)
        base = f"{cfg.mqtt.root}/{cfg.booth_id}"
        assert mqtt.publish_wait(f"{base}/status/not a job id!", b"{}", 10, retain=True)
        other = f"{cfg.mqtt.root}/otherbooth/status/unknownjob0000"  # not this booth's
        assert mqtt.publish_wait(other, b"{}", 10, retain=True)
        assert _retained_jobs(broker, cfg) == {known.job_id, *junk, "not a job id!"}

        t0 = time.time()
        first = run_retention(cfg, ledger, mqtt, now=t0)
        assert first.orphans_seen == 61 and first.orphans_cleared == 0  # not yet: grace
        assert (cfg.data_path / ORPHANS_FILE).exists()
        later = run_retention(cfg, ledger, mqtt, now=t0 + 599)
        assert later.orphans_cleared == 0
        last = run_retention(cfg, ledger, mqtt, now=t0 + 601)
        assert last.orphans_cleared == 61, last
        assert _retained_jobs(broker, cfg) == {known.job_id}
        assert not (cfg.data_path / ORPHANS_FILE).exists()
        assert ledger.get(known.job_id) is not None
        seen = Recorder(broker.port, [other])
        try:
            assert seen.wait(lambda ms: any(m.payload for m in ms), 10), "another booth's went"
        finally:
            seen.close()
    finally:
        mqtt.stop()
        ledger.close()
