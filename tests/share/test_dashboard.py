"""The operator's dashboard behind its login: the event's numbers for a known set of jobs (and
not the event before), paging, `/metrics` parsed by Prometheus' own parser with the same
numbers, a failed job's original, delete (files, link, retained status), and the zip of the
event, streamed."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from booth.protocol import Effect, ErrorKind, JobError, JobStatus, Status, new_job_id
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.links import new_token
from jobstore.names import ai_name, original_name, result_name
from share.admin import make_admin_app
from share.server import make_app
from tests.share.helpers import NO_FACE, PORTRAIT, ServerThread

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
H = 3600.0


def make_job(
    cfg,
    ledger: Ledger,
    created_at: float,
    *,
    effect: str | None = "gemini",
    kind: ErrorKind | None = None,
    status: JobStatus = JobStatus.COMPLETED,
    wait_s: float = 8.0,
) -> str:
    """A job as the kiosk records it, ending as asked: a picture by the AI or the local effect
    (with the error that made it fall back), failed with `kind`, or still in progress."""
    job_id = new_job_id()
    folder = photo_dir(cfg.data_dir, created_at)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(NO_FACE, folder / original_name(job_id))
    shutil.copyfile(PORTRAIT, folder / ai_name(job_id))

    def rel(p: Path) -> str:
        return str(p.relative_to(cfg.data_dir))

    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at))
    ledger.insert_pending(
        job_id,
        cfg.booth_id,
        "drip",
        created_at,
        iso,
        rel(folder / original_name(job_id)),
        rel(folder / ai_name(job_id)),
    )
    if status is JobStatus.PENDING:
        return job_id
    ledger.apply_status(
        Status(job_id, cfg.booth_id, JobStatus.PROCESSING, worker="w1"), at=created_at + 1
    )
    error = JobError.for_guest(kind) if kind else None
    if status is JobStatus.FAILED:
        ledger.apply_status(
            Status(job_id, cfg.booth_id, JobStatus.FAILED, worker="w1", error=error),
            at=created_at + wait_s,
        )
        return job_id
    token = new_token()
    result = folder / result_name(job_id, token, ".jpg")
    shutil.copyfile(PORTRAIT, result)
    ledger.store_result(job_id, rel(result), token)
    ledger.apply_status(
        Status(
            job_id,
            cfg.booth_id,
            JobStatus.COMPLETED,
            effect=Effect(effect),
            worker="w1",
            error=error,
        ),
        at=created_at + wait_s,
    )
    return job_id


@pytest.fixture
def dash(share_cfg):
    """(cfg, ledger, operator server, session headers)."""
    started = []

    def _make(toml: str = "", mqtt=None, **env):
        cfg = share_cfg(
            '[share]\npublic_url = "http://booth.test:8080"\n' + toml,
            BOOTH_ADMIN_PASSWORD="pw",
            **env,
        )
        ledger = Ledger(ledger_path(cfg.data_dir))
        guests = make_app(cfg, ledger=ledger, mqtt=mqtt)
        g = ServerThread(guests).start()
        a = ServerThread(make_admin_app(guests)).start()
        started.append((a, g, ledger))
        status, headers, _ = a.request(
            "POST", "/admin/login", FORM, urlencode({"password": "pw"}).encode()
        )
        assert status == 303
        return cfg, ledger, a, {"Cookie": headers["set-cookie"].split(";", 1)[0]}, g

    yield _make
    for a, g, ledger in started:
        a.stop()
        g.stop()
        ledger.close()


def known_event(cfg, ledger, now: float) -> dict:
    """4 by the AI, 3 local (quota, an outage, no key), 2 failed (safety, bad input), 1 in
    progress; the event before (10 h earlier, after a 6 h pause) has 3 more."""
    for i in range(3):
        make_job(cfg, ledger, now - 10 * H - 600 + i * 60)
    start = now - 2 * H
    waits = [4.0, 5.0, 6.0, 7.0, 9.0, 12.0, 30.0]
    ids: dict[str, Any] = {
        "ai": [make_job(cfg, ledger, start + i * 60, wait_s=waits[i]) for i in range(4)]
    }
    ids["local"] = [
        make_job(cfg, ledger, start + 400, effect="local", kind=ErrorKind.QUOTA, wait_s=waits[4]),
        make_job(
            cfg, ledger, start + 460, effect="local", kind=ErrorKind.UNAVAILABLE, wait_s=waits[5]
        ),
        make_job(cfg, ledger, start + 520, effect="local", wait_s=waits[6]),
    ]
    ids["failed"] = [
        make_job(cfg, ledger, start + 600, status=JobStatus.FAILED, kind=ErrorKind.SAFETY),
        make_job(cfg, ledger, start + 660, status=JobStatus.FAILED, kind=ErrorKind.BAD_INPUT),
    ]
    ids["in_progress"] = [make_job(cfg, ledger, start + 720, status=JobStatus.PENDING)]
    ids["start"] = start
    ids["waits"] = waits
    return ids


def state(a, cookie, query: str = "") -> dict:
    status, headers, body = a.request("GET", "/admin/api/state" + query, cookie)
    assert status == 200 and headers["cache-control"] == "no-store"
    return json.loads(body)


def test_the_event_in_numbers_and_its_pages(dash):
    cfg, ledger, a, cookie, _g = dash()
    ids = known_event(cfg, ledger, time.time())
    s = state(a, cookie)
    ev = s["event"]
    assert abs(ev["start"] - ids["start"]) < 1e-3 and not ev["explicit"]
    assert (ev["photos"], ev["ai"], ev["local"], ev["failed"], ev["in_progress"]) == (
        10,
        4,
        3,
        2,
        1,
    )
    assert ev["fallbacks"] == {"quota": 1, "unavailable": 1, "no_key": 1}
    assert ev["failures"] == {"safety": 1, "bad_input": 1}
    assert ev["wait_p50_s"] == 7.0 and ev["wait_p95_s"] == 30.0 and ev["waits"] == 7
    assert ev["uploads_pending"] is None  # cloud sharing is off
    # the gallery: the whole event, newest first, in pages
    assert s["pages"] == 1 and len(s["jobs"]) == 10
    assert s["jobs"][0]["id"] == ids["in_progress"][0]
    phases = {j["id"]: j["phase"] for j in s["jobs"]}
    assert {phases[j] for j in ids["ai"] + ids["local"]} == {"ready"}
    assert {phases[j] for j in ids["failed"]} == {"failed"}
    ready = next(j for j in s["jobs"] if j["id"] == ids["ai"][0])
    assert ready["link"].startswith("http://booth.test:8080/p/") and ready["code"]
    assert ready["qr"] and ready["thumb"] and ready["effect"] == "gemini"
    failed = next(j for j in s["jobs"] if j["id"] == ids["failed"][0])
    assert failed["link"] is None and failed["error"]["kind"] == "safety"
    p2 = state(a, cookie, "?page=2&per=4")
    assert (p2["page"], p2["pages"], len(p2["jobs"])) == (2, 3, 4)
    seen = [j["id"] for n in (1, 2, 3) for j in state(a, cookie, f"?page={n}&per=4")["jobs"]]
    assert len(seen) == len(set(seen)) == 10
    assert state(a, cookie, "?page=99&per=4")["page"] == 3
    # the operator can fix the event's start: the event before is counted too
    cfg.operator.event_start = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - 12 * H))
    assert state(a, cookie)["event"]["photos"] == 13


def test_the_browsers_favicon_request_gets_an_empty_answer(dash):
    """Browsers ask the operator listener for /favicon.ico on every page: no 404 in their
    console, with or without a session."""
    _cfg, _ledger, a, cookie, _g = dash()
    for headers in (cookie, {}):
        status, _headers, body = a.request("GET", "/favicon.ico", headers)
        assert status == 204 and body == b""


def test_a_party_past_midnight_is_one_event():
    """The event is the newest run of photos, not the day: shots every 20 minutes from 20:00
    to 03:00 are one event; the afternoon before (after an 8 h pause) is not."""
    from booth.config import Config
    from jobstore.stats import event_stats

    cfg = Config()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(ledger_path(tmp))
        cfg.data_dir = tmp
        try:
            evening = time.mktime((2026, 11, 21, 20, 0, 0, 0, 0, -1))
            make_job(cfg, ledger, evening - 8 * H)
            for i in range(22):  # 20:00 … 03:00
                make_job(cfg, ledger, evening + i * 1200)
            stats = event_stats(cfg, ledger)
            assert stats.start == evening and stats.photos == 22 and stats.ai == 22
        finally:
            ledger.close()


def test_metrics_parse_and_match_the_dashboard(dash):
    from prometheus_client.parser import text_string_to_metric_families

    cfg, ledger, a, cookie, _g = dash(BOOTH_METRICS_TOKEN="scrape-me-9f2c")
    known_event(cfg, ledger, time.time())
    ev = state(a, cookie)["event"]
    assert a.request("GET", "/metrics")[0] == 401
    assert a.request("GET", "/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    status, headers, body = a.request("GET", "/metrics", {"Authorization": "Bearer scrape-me-9f2c"})
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert a.request("GET", "/metrics", cookie)[0] == 200  # a logged-in browser too
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    def value(name: str, **labels) -> float:
        found = [
            s.value
            for f in families.values()
            for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    for outcome in ("ai", "local", "failed", "in_progress"):
        assert value("booth_event_photos", booth="testbooth", outcome=outcome) == ev[outcome]
    assert value("booth_event_shots") == ev["photos"]
    for kind, n in ev["fallbacks"].items():
        assert value("booth_event_fallbacks", kind=kind) == n
    for kind, n in ev["failures"].items():
        assert value("booth_event_failures", kind=kind) == n
    assert families["booth_event_wait_seconds"].type == "summary"
    assert value("booth_event_wait_seconds", quantile="0.5") == ev["wait_p50_s"]
    assert value("booth_event_wait_seconds", quantile="0.95") == ev["wait_p95_s"]
    assert value("booth_event_wait_seconds_count") == ev["waits"]
    assert value("booth_event_start_timestamp_seconds") == pytest.approx(ev["start"])
    assert value("booth_workers_online") == 0 and value("booth_health") == 2  # nobody said a word
    assert value("booth_part_up", part="kiosk") == 0
    # wrong tokens count as wrong passwords: the address is locked after 10
    for _ in range(10):
        a.request("GET", "/metrics", {"Authorization": "Bearer guess"}, source="127.0.0.7")
    assert (
        a.request(
            "GET", "/metrics", {"Authorization": "Bearer scrape-me-9f2c"}, source="127.0.0.7"
        )[0]
        == 429
    )


def test_a_failed_jobs_original_is_there(dash):
    cfg, ledger, a, cookie, _g = dash()
    job = make_job(cfg, ledger, time.time() - 60, status=JobStatus.FAILED, kind=ErrorKind.SAFETY)
    row = ledger.get(job)
    status, headers, body = a.request("GET", f"/admin/original/{job}.jpg", cookie)
    assert status == 200 and body == (cfg.data_path / row.original_path).read_bytes()
    assert "attachment" in headers["content-disposition"]
    status, headers, thumb = a.request("GET", f"/admin/original/{job}/thumb.jpg", cookie)
    assert status == 200 and headers["content-type"] == "image/jpeg" and len(thumb) < len(body)
    assert a.request("GET", f"/admin/original/{job}.jpg")[0] == 401  # no session
    assert a.request("GET", f"/admin/qr/{job}.svg", cookie)[0] == 404  # no picture: no QR


def test_delete_removes_the_files_the_link_and_the_retained_status(dash, broker):
    import paho.mqtt.client as paho

    from booth.mqtt import MqttConnection
    from booth.protocol import Topics

    mqtt = MqttConnection(broker.url, "share-test").start()
    assert mqtt.wait_connected(10)
    try:
        cfg, ledger, a, cookie, guests = dash(mqtt=mqtt)
        cfg.share.public_url = guests.base
        job = make_job(cfg, ledger, time.time() - 60)
        keep = make_job(cfg, ledger, time.time() - 30)
        row = ledger.get(job)
        files = [cfg.data_path / p for p in (row.original_path, row.ai_path, row.result_path)]
        topic = Topics().status(cfg.booth_id, job)
        assert mqtt.publish_wait(
            topic,
            Status(job, cfg.booth_id, JobStatus.COMPLETED, effect=Effect.GEMINI).to_json(),
            5,
            retain=True,
        )
        assert guests.get(f"/p/{row.token}")[0] == 200
        assert a.request("GET", f"/admin/thumb/{job}.jpg", cookie)[0] == 200
        # from another site: refused; without a session: refused
        path = f"/admin/api/jobs/{job}/delete"
        assert a.request("POST", path, {**cookie, "Origin": "http://evil.test"}, b"")[0] == 403
        assert a.request("POST", path, {}, b"")[0] == 401
        status, _h, body = a.request("POST", path, cookie, b"")
        assert status == 200 and json.loads(body) == {"deleted": job}
        assert not any(f.exists() for f in files)
        assert ledger.get(job) is None and ledger.get(keep) is not None
        assert guests.get(f"/p/{row.token}")[0] == 404
        assert a.request("GET", f"/admin/thumb/{job}.jpg", cookie)[0] == 404
        assert a.request("POST", path, cookie, b"")[0] == 404  # gone already
        # the retained status is cleared: a new subscriber gets nothing for it
        got = []
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        c.on_connect = lambda cl, u, f, r, p: cl.subscribe(f"booth/{cfg.booth_id}/status/+", 1)
        c.on_message = lambda cl, u, m: got.append(m.topic)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        time.sleep(1.0)
        c.loop_stop()
        c.disconnect()
        assert topic not in got
        assert job not in [j["id"] for j in state(a, cookie)["jobs"]]
    finally:
        mqtt.stop()


def test_the_event_zip_has_every_picture_and_the_failed_originals(dash):
    cfg, ledger, a, cookie, _g = dash()
    ids = known_event(cfg, ledger, time.time())
    status, headers, body = a.request("GET", "/admin/event.zip", cookie)
    assert status == 200 and headers["content-type"] == "application/zip"
    assert headers.get("transfer-encoding") == "chunked"  # streamed, no length known ahead
    assert "attachment" in headers["content-disposition"]
    z = zipfile.ZipFile(io.BytesIO(body))
    assert z.testzip() is None
    names = z.namelist()
    assert len(names) == len(set(names)) == 7 + 2  # 7 pictures, 2 failed originals
    assert sum(n.startswith("originals/") for n in names) == 2
    stored = sorted(
        (cfg.data_path / ledger.get(j).result_path).read_bytes() for j in ids["ai"] + ids["local"]
    )
    assert sorted(z.read(n) for n in names if not n.startswith("originals/")) == stored
    assert a.request("GET", "/admin/event.zip")[0] == 401


def test_a_client_leaving_mid_zip_stops_the_writer(dash):
    """The zip is written by a thread into a small pipe: when the operator's browser goes away,
    the thread ends instead of waiting for it forever."""
    import http.client
    import threading

    cfg, ledger, a, cookie, _g = dash()
    big = PORTRAIT.read_bytes() * 40  # ~2 MB per picture: more than the pipe holds
    for i in range(12):
        job = make_job(cfg, ledger, time.time() - 600 + i)
        (cfg.data_path / ledger.get(job).result_path).write_bytes(big)
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    c.request("GET", "/admin/event.zip", headers=cookie)
    r = c.getresponse()
    assert r.status == 200 and len(r.read(200_000)) == 200_000
    assert any(t.name == "zip-writer" for t in threading.enumerate())
    c.sock.close()
    c.close()
    end = time.monotonic() + 15
    while time.monotonic() < end and any(t.name == "zip-writer" for t in threading.enumerate()):
        time.sleep(0.1)
    assert not any(t.name == "zip-writer" for t in threading.enumerate())
