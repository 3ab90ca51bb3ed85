"""The protocol module: round-trips of every message type, one clear error for bad input, and
tolerant reading of what a newer sender adds."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import booth.protocol as protocol
from booth.protocol import (
    FIRST_PROTOCOL_VERSION,
    GUEST_MESSAGES,
    PROTOCOL_PROPERTY,
    PROTOCOL_VERSION,
    Availability,
    Effect,
    ErrorKind,
    Health,
    JobError,
    JobMeta,
    JobStatus,
    ProtocolError,
    Status,
    TopicKind,
    Topics,
    UnknownStatus,
    availability_properties,
    moves_forward,
    new_job_id,
    parse_availability,
    utc_now_iso,
    validate_job_id,
)

T = Topics("booth")
JOB = "0123456789abcdef0123456789abcdef"


def full_status(**kw: Any) -> Status:
    base: dict[str, Any] = dict(
        job_id=JOB,
        booth_id="pi-1",
        status=JobStatus.COMPLETED,
        effect=Effect.LOCAL,
        attempt=2,
        worker="worker-a",
        error=JobError(ErrorKind.QUOTA, "quota used", 27.5),
        updated_at=utc_now_iso(),
    )
    base.update(kw)
    return Status(**base)


def test_topics_build_and_parse_round_trip():
    assert T.jobs("pi-1") == "booth/pi-1/jobs"
    assert T.status("pi-1", JOB) == f"booth/pi-1/status/{JOB}"
    assert T.results("pi-1", JOB) == f"booth/pi-1/results/{JOB}"
    assert T.availability("pi-1") == "booth/pi-1/availability"
    assert T.worker_availability("w1") == "booth/workers/w1/availability"
    assert T.shared_jobs() == "$share/workers/booth/+/jobs"
    assert T.parse(T.jobs("pi-1")).kind is TopicKind.JOBS
    p = T.parse(T.status("pi-1", JOB))
    assert (p.kind, p.booth, p.job_id) == (TopicKind.STATUS, "pi-1", JOB)
    p = T.parse(T.results("pi-1", JOB))
    assert (p.kind, p.job_id) == (TopicKind.RESULTS, JOB)
    assert T.parse(T.availability("pi-1")).kind is TopicKind.AVAILABILITY
    p = T.parse(T.worker_availability("w1"))
    assert (p.kind, p.worker) == (TopicKind.WORKER_AVAILABILITY, "w1")


@pytest.mark.parametrize(
    "topic",
    [
        "other/pi-1/jobs",
        "booth/pi-1",
        "booth/pi-1/status",
        "booth/pi-1/status/short",
        f"booth/pi-1/status/{JOB}/extra",
        "booth/pi 1/jobs",
        "booth/+/jobs",
        "booth/pi-1/nothing",
        "booth/workers/w1/other",
        "booth/workers/w#/availability",
        "",
    ],
)
def test_unparseable_topics_raise_protocol_error(topic):
    with pytest.raises(ProtocolError):
        T.parse(topic)


def test_status_round_trip_every_field():
    for st in (
        full_status(),
        full_status(status=JobStatus.PENDING, effect=None, attempt=1, worker=None, error=None),
        full_status(
            status=JobStatus.FAILED, effect=None, error=JobError.for_guest(ErrorKind.BAD_INPUT)
        ),
    ):
        wire = st.to_json()
        data = json.loads(wire)
        assert list(data) == [
            "job_id",
            "booth_id",
            "status",
            "effect",
            "attempt",
            "worker",
            "error",
            "updated_at",
            "style_used",
        ]
        assert Status.from_json(wire) == st


def test_status_style_used_is_optional_for_older_senders():
    st = full_status(style_used="drip")
    assert Status.from_json(st.to_json()).style_used == "drip"
    plain = full_status()
    older = {k: v for k, v in plain.to_dict().items() if k != "style_used"}
    assert Status.from_dict(older) == plain
    with pytest.raises(ProtocolError, match="style_used"):
        Status.from_dict({**older, "style_used": "no such/name"})


def test_worker_health_topic_and_message():
    from booth.protocol import Health

    assert T.worker_health("w1") == "booth/workers/w1/health"
    assert T.all_worker_health() == "booth/workers/+/health"
    p = T.parse(T.worker_health("w1"))
    assert (p.kind, p.worker) == (TopicKind.WORKER_HEALTH, "w1")
    h = Health(
        "error",
        id="w1",
        reason="the key is rejected",
        fix="new key",
        ai="key_rejected",
        jobs_in_flight=2,
        counts={"completed": 3},
        last_error={"kind": "unavailable", "detail": "HTTP 400", "at": utc_now_iso()},
    )
    assert Health.from_json(h.to_json()) == h
    # it can grow: unknown fields are kept, and only state and updated_at are required
    grown = {**json.loads(h.to_json()), "camera": "ok", "ai": "some_future_state"}
    back = Health.from_dict(grown)
    assert back.extra == {"camera": "ok"} and back.ai == "some_future_state"
    assert Health.from_dict({"state": "ok", "updated_at": utc_now_iso()}).part == "worker"
    for bad, fragment in [
        ({"state": 1, "updated_at": utc_now_iso()}, "state"),
        ({"state": "ok"}, "updated_at"),
        ({"state": "ok", "updated_at": utc_now_iso(), "jobs_in_flight": -1}, "jobs_in_flight"),
        ({"state": "ok", "updated_at": utc_now_iso(), "reason": 3}, "reason"),
        ({"state": "ok", "updated_at": utc_now_iso(), "counts": {"a": "b"}}, "counts"),
    ]:
        with pytest.raises(ProtocolError, match=fragment):
            Health.from_dict(bad)
    with pytest.raises(ProtocolError):
        Health.from_json(b"\xff not json")


def test_error_object_shape():
    data = json.loads(full_status().to_json())
    assert data["error"] == {"kind": "quota", "message": "quota used", "retry_after_s": 27.5}
    assert data["effect"] == "local"


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: "not json", "not valid JSON"),
        (lambda d: [1, 2], "JSON object"),
        (lambda d: d.pop("worker") and None, "missing field"),
        (lambda d: d.update(status="done"), "status 'done'"),
        (lambda d: d.update(status=2), "status must be a string"),
        (lambda d: d.update(effect=1), "effect"),
        (lambda d: d.update(job_id="../etc"), "bad job id"),
        (lambda d: d.update(job_id="short"), "bad job id"),
        (lambda d: d.update(attempt=0), "attempt"),
        (lambda d: d.update(attempt="1"), "attempt"),
        (lambda d: d.update(updated_at="yesterday"), "ISO 8601"),
        (
            lambda d: d.update(error={"kind": None, "message": "x", "retry_after_s": None}),
            "error.kind",
        ),
        (lambda d: d.update(error={"kind": "quota", "message": "x"}), "missing field"),
        (
            lambda d: d.update(error={"kind": "quota", "message": "x", "retry_after_s": -1}),
            "retry_after_s",
        ),
        (lambda d: d.update(error="boom"), "error must be"),
        (lambda d: d.update(booth_id="a/b"), "booth id"),
    ],
)
def test_malformed_status_raises_one_clear_error(mutate, fragment):
    data = full_status().to_dict()
    out = mutate(data)
    payload = out if isinstance(out, (str, list)) else data
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    with pytest.raises(ProtocolError) as exc:
        Status.from_json(raw)
    assert fragment in str(exc.value)


def test_binary_garbage_status_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        Status.from_json(b"\xff\xfe\x00garbage")


def test_job_meta_round_trip_through_properties():
    meta = JobMeta(new_job_id(), "drip", content_type="image/png")
    assert JobMeta.from_properties(meta.to_properties()) == meta


@pytest.mark.parametrize(
    "props, fragment",
    [
        (None, "no job_id"),
        ([("style", "drip")], "no job_id"),
        (
            [("job_id", "bad id!"), ("style", "drip"), ("created_at", "2026-01-01T00:00:00Z")],
            "bad job id",
        ),
        ([("job_id", JOB), ("created_at", "2026-01-01T00:00:00Z")], "style"),
        ([("job_id", JOB), ("style", "drip"), ("created_at", "nope")], "ISO 8601"),
        ([("job_id", JOB), ("style", "drip"), ("created_at", "2026-01-01T00:00:00")], "time zone"),
    ],
)
def test_malformed_job_properties(props, fragment):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = None
    if props is not None:
        p = Properties(PacketTypes.PUBLISH)
        p.UserProperty = props
        p.ContentType = "image/jpeg"
    with pytest.raises(ProtocolError) as exc:
        JobMeta.from_properties(p)
    assert fragment in str(exc.value)


def test_job_content_type_must_be_an_image():
    meta = JobMeta(JOB, "drip")
    props = meta.to_properties()
    props.ContentType = "text/plain"
    with pytest.raises(ProtocolError, match="content type"):
        JobMeta.from_properties(props)


def test_status_only_moves_forward():
    P, R, C, F = (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED)
    assert moves_forward(None, P)
    assert moves_forward(P, R) and moves_forward(P, C) and moves_forward(R, F)
    for cur, new in [(R, P), (C, R), (C, F), (F, C), (C, C), (P, P), (R, R)]:
        assert not moves_forward(cur, new), (cur, new)
    assert C.is_final and F.is_final and not R.is_final


def test_job_ids():
    jid = new_job_id()
    assert validate_job_id(jid) == jid and len(jid) == 32
    assert new_job_id() != jid
    for bad in ("", "abc", "x" * 65, "has space12", "slash/1234", None, 12345678):
        with pytest.raises(ProtocolError):
            validate_job_id(bad)


def test_every_error_kind_has_a_guest_message():
    assert set(GUEST_MESSAGES) == set(ErrorKind)
    assert {k.value for k in ErrorKind} == {
        "quota",
        "rate_limited",
        "safety",
        "no_image",
        "timeout",
        "unavailable",
        "bad_input",
        "internal",
    }


def test_availability_payloads():
    assert parse_availability(b"online") is True
    assert parse_availability("offline") is False
    with pytest.raises(ProtocolError):
        parse_availability(b"maybe")


# ----------------------------------------------------------------------- across versions
@pytest.fixture
def notes(monkeypatch, caplog):
    """A process that has noted nothing yet; returns the protocol log's lines so far."""
    monkeypatch.setattr(protocol, "_noted", set())
    caplog.set_level(logging.INFO, logger="booth.protocol")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "booth.protocol"]

    return lines


def test_added_fields_are_ignored_and_logged_once_per_process(notes):
    """A newer worker's status (an added field at the top and in its error) is read as the same
    status; each added name is logged once however many messages carry it."""
    st = full_status(style_used="drip")
    newer = {**st.to_dict(), "gpu_ms": 812, "trace": {"id": "x"}}
    newer["error"] = {**newer["error"], "detail": "429 from upstream"}
    for _ in range(3):
        assert Status.from_json(json.dumps(newer)) == st
    said = notes()
    for name in ("gpu_ms", "trace", "detail"):
        assert sum(repr(name) in line for line in said) == 1, (name, said)
    assert all("is not in protocol v" in line for line in said) and len(said) == 3


def test_malformed_known_fields_are_still_rejected_beside_added_ones(notes):
    base = {**full_status().to_dict(), "added": True}
    for change, fragment in [
        ({"attempt": "2"}, "attempt"),
        ({"worker": "a/b"}, "worker id"),
        ({"updated_at": "soon"}, "ISO 8601"),
        ({"effect": ["gemini"]}, "effect"),
        ({"error": {"kind": "quota", "message": 5, "retry_after_s": None}}, "error.message"),
        ({"style_used": "x y"}, "style_used"),
    ]:
        with pytest.raises(ProtocolError, match=fragment):
            Status.from_dict({**base, **change})
    with pytest.raises(ProtocolError, match="missing field"):
        Status.from_dict({k: v for k, v in base.items() if k != "updated_at"})


def test_a_newer_effect_or_error_kind_still_completes_the_job(notes):
    """An unknown effect reads as null and an unknown error kind as `internal` (its words kept):
    the completed status still counts, so the guest gets the picture."""
    newer = full_status().to_dict()
    newer["effect"] = "hologram"
    newer["error"] = {"kind": "model_overloaded", "message": "Busy AI", "retry_after_s": 3}
    st = Status.from_dict(newer)
    assert (st.status, st.effect) == (JobStatus.COMPLETED, None)
    assert st.error == JobError(ErrorKind.INTERNAL, "Busy AI", 3)
    Status.from_dict(newer)
    said = notes()
    assert sum("'hologram'" in line and "read as None" in line for line in said) == 1
    assert sum("'model_overloaded'" in line and "read as 'internal'" in line for line in said) == 1


def test_a_newer_status_value_leaves_the_job_where_it_is(notes):
    """Nobody can rank a value it does not know: the message is refused as UnknownStatus (a
    ProtocolError, which every reader drops), carrying the job it names, and logged once."""
    newer = {**full_status(status=JobStatus.PROCESSING, error=None).to_dict(), "status": "paused"}
    for _ in range(2):
        with pytest.raises(UnknownStatus, match="status 'paused' is newer") as exc:
            Status.from_dict(newer)
        assert (exc.value.job_id, exc.value.booth) == (JOB, "pi-1")
        assert isinstance(exc.value, ProtocolError)
    assert sum("'paused'" in line for line in notes()) == 1
    # a malformed message is a plain ProtocolError, whatever its status says
    with pytest.raises(ProtocolError) as plain:
        Status.from_dict({**newer, "attempt": 0})
    assert not isinstance(plain.value, UnknownStatus)


def test_health_carries_the_protocol_version_and_reads_newer_words_as_warn(notes):
    h = Health("ok", id="w1", ai="ok")
    wire = json.loads(h.to_json())
    assert wire[PROTOCOL_PROPERTY] == PROTOCOL_VERSION
    assert Health.from_json(h.to_json()) == h
    older = {k: v for k, v in wire.items() if k != PROTOCOL_PROPERTY}
    assert Health.from_dict(older).protocol_version == FIRST_PROTOCOL_VERSION
    newer = {
        **wire,
        PROTOCOL_PROPERTY: PROTOCOL_VERSION + 1,
        "state": "degraded",
        "gpu": {"temp_c": 71},
        "problems": [{"code": "hot", "level": "notice", "reason": "warm", "since": "x"}],
    }
    back = Health.from_dict(newer)
    assert back.protocol_version == PROTOCOL_VERSION + 1
    assert back.state == "warn" and back.problems[0].level == "warn"
    assert back.extra == {"gpu": {"temp_c": 71}}  # health keeps what it does not know
    said = notes()
    assert any("'degraded'" in line for line in said) and any("'since'" in line for line in said)
    for bad in ("2", 0, True, 1.5):
        with pytest.raises(ProtocolError, match=PROTOCOL_PROPERTY):
            Health.from_dict({**wire, PROTOCOL_PROPERTY: bad})


def _props(*pairs: tuple[str, str]):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.PUBLISH)
    if pairs:
        p.UserProperty = list(pairs)
    return p


def test_availability_payload_stays_plain_and_its_version_is_a_user_property():
    from paho.mqtt.packettypes import PacketTypes

    mine = availability_properties()
    assert mine.UserProperty == [(PROTOCOL_PROPERTY, str(PROTOCOL_VERSION))]
    assert availability_properties(will=True).packetType == PacketTypes.WILLMESSAGE
    assert Availability.parse(b"online", mine) == Availability(True, PROTOCOL_VERSION)
    assert Availability.parse(b"offline", None) == Availability(False, FIRST_PROTOCOL_VERSION)
    newer = _props(("region", "eu"), (PROTOCOL_PROPERTY, "7"))
    assert Availability.parse("online", newer) == Availability(True, 7)
    for bad in ("", "0", "v2", "2.0", "-1"):
        with pytest.raises(ProtocolError, match=PROTOCOL_PROPERTY):
            Availability.parse(b"online", _props((PROTOCOL_PROPERTY, bad)))
    with pytest.raises(ProtocolError, match="'online' or 'offline'"):
        Availability.parse(b'{"online": true}', mine)


def test_job_properties_added_by_a_newer_kiosk_are_ignored_and_logged_once(notes):
    meta = JobMeta(JOB, "drip")
    props = meta.to_properties()
    props.UserProperty = [*meta.user_properties(), ("strip_frame", "2")]
    for _ in range(2):
        assert JobMeta.from_properties(props) == meta
    assert sum("'strip_frame'" in line for line in notes()) == 1


def test_the_log_of_unknown_names_is_bounded(notes, monkeypatch):
    """A sender that makes up a new field per message cannot flood the log or grow memory."""
    monkeypatch.setattr(protocol, "NOTED_MAX", 5)
    base = full_status().to_dict()
    for i in range(20):
        Status.from_dict({**base, f"f{i}": i})
    said = notes()
    assert len(said) == 6 and "further ones are not logged" in said[-1]
    assert len(protocol._noted) == 5
