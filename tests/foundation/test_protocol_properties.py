"""Every parser of booth/protocol.py on any input: it returns a message or raises ProtocolError,
nothing else (no RecursionError, OverflowError, TypeError …); what a sender writes reads back
the same; a field a newer sender adds is still ignored. The inputs outside tools found are
regression cases."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import tests.support.properties  # noqa: F401  (the Hypothesis profile)
from booth.protocol import (
    MAX_JSON_DEPTH,
    PROTOCOL_PROPERTY,
    Availability,
    Effect,
    ErrorKind,
    Health,
    JobError,
    JobMessage,
    JobMeta,
    JobStatus,
    Problem,
    ProtocolError,
    Status,
    Topics,
    parse_availability,
    parse_iso,
    parse_protocol_version,
    protocol_version_of,
    utc_now_iso,
    validate_job_id,
    validate_node_id,
)

T = Topics("booth")
JOB = "0123456789abcdef0123456789abcdef"

# ---------------------------------------------------------------------------- strategies
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),  # past a float's range
    st.floats(allow_nan=True, allow_infinity=True),
)
# text a JSON escape can carry that is not Unicode: lone surrogates ("\\udc90")
any_text = st.text(max_size=20) | st.text(st.characters(blacklist_categories=[]), max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True)
nodes = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)


def payloads() -> st.SearchStrategy[Any]:
    """Bytes as paho hands them over: random, JSON of anything, deeply nested, or text."""
    nested = st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n)
    open_only = st.integers(1, 5000).map(lambda n: b'{"a":' * n)
    as_json = json_values.map(lambda v: json.dumps(v).encode())
    raw = st.binary(max_size=300)
    data = st.one_of(raw, as_json, nested, open_only)
    return st.one_of(data, data.map(bytearray), data.map(lambda b: b.decode("utf-8", "replace")))


def error_dict() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "kind": st.sampled_from([k.value for k in ErrorKind]),
            "message": st.text(max_size=40),
            "retry_after_s": st.none() | st.floats(0, 1e6) | st.integers(0, 10**6),
        }
    )


def status_dict() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "job_id": ids,
            "booth_id": nodes,
            "status": st.sampled_from([s.value for s in JobStatus]),
            "effect": st.none() | st.sampled_from([e.value for e in Effect]),
            "attempt": st.integers(1, 10**6),
            "worker": st.none() | nodes,
            "error": st.none() | error_dict(),
            "updated_at": st.just(utc_now_iso()),
        },
        optional={"style_used": st.none() | st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)},
    )


def health_dict() -> st.SearchStrategy[dict[str, Any]]:
    problem = st.fixed_dictionaries(
        {
            "code": st.text(max_size=8),
            "level": st.sampled_from(["warn", "error"]),
            "reason": st.text(max_size=8),
        },
        optional={"fix": st.text(max_size=8)},
    )
    return st.fixed_dictionaries(
        {"state": st.sampled_from(["ok", "warn", "error"]), "updated_at": st.just(utc_now_iso())},
        optional={
            "part": st.text(max_size=8),
            "id": st.none() | st.text(max_size=8),
            "jobs_in_flight": st.integers(0, 10),
            "counts": st.dictionaries(st.text(max_size=4), st.integers(0, 9), max_size=3),
            "last_error": st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4)),
            "problems": st.lists(problem, max_size=2),
            PROTOCOL_PROPERTY: st.integers(1, 3),
        },
    )


@st.composite
def near(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid message with one field (or a nested object's field) replaced by any JSON value,
    numbers past a float's range included, or with a field added."""
    data = draw(valid)
    target = data
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    # (each draw stands alone: after `x and`, mypy would take x's type for what draw returns)
    if nested and bool(draw(st.booleans())):
        target = data[draw(st.sampled_from(sorted(nested)))]
    value = draw(st.one_of(numbers, json_values))
    if target and draw(st.integers(0, 3)) != 0:
        target[draw(st.sampled_from(sorted(target)))] = value
    else:
        target[draw(st.text(max_size=10))] = value
    return data


def user_properties(names: st.SearchStrategy[str]) -> st.SearchStrategy[Properties]:
    def make(pairs: list[tuple[str, str]], content_type: str | None) -> Properties:
        props = Properties(PacketTypes.PUBLISH)
        if pairs:
            props.UserProperty = pairs
        if content_type is not None:
            props.ContentType = content_type
        return props

    pair = st.tuples(names, st.text(max_size=40))
    content = (
        st.none()
        | st.sampled_from(["image/jpeg", "image/png", "text/plain"])
        | st.text(max_size=10)
    )
    return st.builds(make, st.lists(pair, max_size=5), content)


def parses_or_protocol_error(parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except ProtocolError:
        return None


# ---------------------------------------------------------------------------- any input
@given(payloads())
def test_status_from_json_raises_only_protocol_error(payload):
    parses_or_protocol_error(Status.from_json, payload)


@given(payloads())
def test_health_from_json_raises_only_protocol_error(payload):
    parses_or_protocol_error(Health.from_json, payload)


@given(json_values)
def test_dict_parsers_raise_only_protocol_error(value):
    for parse in (Status.from_dict, Health.from_dict, JobError.from_dict, Problem.from_dict):
        parses_or_protocol_error(parse, value)


@given(near(status_dict()))
def test_a_status_with_one_bad_field_raises_only_protocol_error(data):
    st_ = parses_or_protocol_error(Status.from_json, json.dumps(data).encode())
    if st_ is not None:  # what was read writes back as something that reads the same
        assert Status.from_json(st_.to_json()) == st_


@given(near(error_dict()))
def test_an_error_with_one_bad_field_raises_only_protocol_error(data):
    parses_or_protocol_error(JobError.from_dict, data)


@given(near(health_dict()))
def test_a_health_with_one_bad_field_raises_only_protocol_error(data):
    health = parses_or_protocol_error(Health.from_json, json.dumps(data).encode())
    if health is not None:
        assert Health.from_json(health.to_json()) == health


@given(
    st.text(max_size=120)
    | st.lists(
        st.sampled_from(
            [
                "booth",
                "workers",
                "status",
                "results",
                "jobs",
                "availability",
                "health",
                "share",
                "uploader",
                JOB,
                "",
                "+",
                "#",
                "a/b",
            ]
        ),
        max_size=6,
    ).map("/".join)
)
def test_topic_parse_raises_only_protocol_error(topic):
    parsed = parses_or_protocol_error(T.parse, topic)
    if parsed is not None:
        assert topic.split("/")[0] == "booth"


@given(st.text(max_size=80))
def test_topic_roots_and_ids_raise_only_protocol_error(text):
    parses_or_protocol_error(Topics, text)
    parses_or_protocol_error(validate_job_id, text)
    parses_or_protocol_error(validate_node_id, text)
    parses_or_protocol_error(parse_iso, text)


@given(json_values)
def test_id_and_version_checks_raise_only_protocol_error_on_any_json(value):
    parses_or_protocol_error(validate_job_id, value)
    parses_or_protocol_error(validate_node_id, value)
    parses_or_protocol_error(parse_iso, value)
    parses_or_protocol_error(parse_protocol_version, value, "v")


@given(payloads(), user_properties(st.sampled_from([PROTOCOL_PROPERTY, "x"]) | st.text(max_size=8)))
def test_availability_parsers_raise_only_protocol_error(payload, props):
    parses_or_protocol_error(parse_availability, payload)
    parses_or_protocol_error(Availability.parse, payload, props)
    parses_or_protocol_error(protocol_version_of, props)


@given(
    user_properties(
        st.sampled_from(["job_id", "style", "created_at", "extra"]) | st.text(max_size=8)
    ),
    st.sampled_from(["booth/pi-1/jobs", "booth/workers/w/jobs", "booth/pi 1/jobs", "other/x/jobs"]),
)
def test_job_properties_raise_only_protocol_error(props, topic):
    parses_or_protocol_error(JobMeta.from_properties, props)
    parses_or_protocol_error(JobMessage.parse, T, topic, props)


# ---------------------------------------------------------------------------- round trips
@given(status_dict())
def test_a_status_reads_back_as_it_was_written(data):
    st_ = Status.from_dict(data)
    assert Status.from_json(st_.to_json()) == st_


@given(
    st.sampled_from(["ok", "warn", "error"]),
    st.integers(0, 1000),
    st.dictionaries(st.text(string.ascii_letters, max_size=8), st.integers(0, 10**9), max_size=4),
    st.lists(
        st.builds(
            Problem,
            st.text(max_size=8),
            st.sampled_from(["warn", "error"]),
            st.text(max_size=20),
            st.text(max_size=20),
        ),
        max_size=3,
    ),
)
def test_health_reads_back_as_it_was_written(state, jobs, counts, problems):
    h = Health(state, jobs_in_flight=jobs, counts=counts, problems=tuple(problems))
    assert Health.from_json(h.to_json()) == h


@given(
    status_dict(),
    st.dictionaries(
        st.text(string.ascii_lowercase, min_size=1, max_size=8), json_values, max_size=3
    ),
)
def test_fields_a_newer_sender_adds_are_ignored(data, added):
    known = set(data) | {"style_used", "error"}
    extra = {k: v for k, v in added.items() if k not in known}
    assert Status.from_dict({**data, **extra}) == Status.from_dict(data)


# ---------------------------------------------------------------------------- regressions
@pytest.mark.parametrize("parse", [Status.from_json, Health.from_json])
def test_deep_nesting_is_a_protocol_error(parse):
    """b"[" * 1000 raised RecursionError out of both parsers."""
    with pytest.raises(ProtocolError):
        parse(b"[" * 1000)


def test_json_nested_deeper_than_the_limit_is_refused_even_when_python_could_read_it():
    """A health message the C parser reads but that a later json.dumps of it (the dashboard's
    /admin/api/state) would fail on, deeper in the call stack."""
    deep = {"state": "ok", "updated_at": utc_now_iso(), "x": json.loads("[" * 200 + "]" * 200)}
    with pytest.raises(ProtocolError, match="nested"):
        Health.from_json(json.dumps(deep))
    shallow = {**deep, "x": json.loads("[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2))}
    assert Health.from_json(json.dumps(shallow)).extra["x"]


def test_a_retry_after_past_a_floats_range_is_a_protocol_error():
    """10**309 raised OverflowError from JobError.from_dict (math.isfinite of a huge int)."""
    error = {"kind": "quota", "message": "m", "retry_after_s": 10**309}
    with pytest.raises(ProtocolError, match="retry_after_s"):
        JobError.from_dict(error)
    status = {**Status(JOB, "pi-1", JobStatus.FAILED).to_dict(), "error": error}
    with pytest.raises(ProtocolError, match="retry_after_s"):
        Status.from_json(json.dumps(status))


def test_a_protocol_version_is_bounded_like_the_user_property():
    h = {"state": "ok", "updated_at": utc_now_iso(), PROTOCOL_PROPERTY: 10**30}
    with pytest.raises(ProtocolError, match=PROTOCOL_PROPERTY):
        Health.from_dict(h)
    assert Health.from_dict({**h, PROTOCOL_PROPERTY: 999_999_999}).protocol_version == 999_999_999


@pytest.mark.parametrize("parse", [Status.from_json, Health.from_json])
def test_text_that_is_not_unicode_is_a_protocol_error(parse):
    """A JSON escape of a lone surrogate read fine but made to_json() raise UnicodeEncodeError
    (found by fuzz/fuzz_protocol.py): it is refused where it comes in."""
    status = Status(JOB, "pi-1", JobStatus.FAILED, error=JobError.for_guest(ErrorKind.QUOTA))
    text = (
        status.to_json().decode() if parse is Status.from_json else Health("ok").to_json().decode()
    )
    field = '"message":"' if parse is Status.from_json else '"reason":"'
    bad = text.replace(field, field + "\\udc90", 1)
    assert bad != text
    with pytest.raises(ProtocolError, match="not Unicode"):
        parse(bad.encode())
