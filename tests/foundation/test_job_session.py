"""A strip session's frame on the wire: the job's optional `session_id` and `frame` user
properties (booth/protocol.py JobMeta), read back, refused when malformed, and invisible to a
job without them (what an older kiosk sends)."""

from __future__ import annotations

import pytest

from booth.protocol import JOB_USER_PROPERTIES, JobMeta, ProtocolError, new_job_id

JOB = "0123456789abcdef0123456789abcdef"
SESSION = "fedcba9876543210fedcba9876543210"


def _with(meta: JobMeta, *extra: tuple[str, str]) -> JobMeta:
    props = meta.to_properties()
    props.UserProperty = [*meta.user_properties(), *extra]
    return JobMeta.from_properties(props)


def test_a_frame_carries_its_session_and_number():
    meta = JobMeta(JOB, "drip", session_id=SESSION, frame=3)
    names = [name for name, _value in meta.user_properties()]
    assert names == [*JOB_USER_PROPERTIES, "session_id", "frame"]
    back = JobMeta.from_properties(meta.to_properties())
    assert back == meta and back.session_id == SESSION and back.frame == 3


def test_a_photo_of_its_own_has_neither():
    meta = JobMeta(new_job_id(), "drip")
    assert [n for n, _v in meta.user_properties()] == list(JOB_USER_PROPERTIES)
    back = JobMeta.from_properties(meta.to_properties())
    assert back.session_id is None and back.frame is None


@pytest.mark.parametrize(
    "extra",
    [
        (("session_id", SESSION),),  # a session without its frame number
        (("frame", "2"),),  # a number without its session
        (("session_id", "no/slashes/here"), ("frame", "1")),
        (("session_id", SESSION), ("frame", "0")),
        (("session_id", SESSION), ("frame", "17")),
        (("session_id", SESSION), ("frame", "²")),  # a digit to str.isdigit, not to int()
        (("session_id", SESSION), ("frame", "-1")),
    ],
)
def test_a_malformed_session_is_refused_with_the_job_named(extra):
    with pytest.raises(ProtocolError, match="session") as err:
        _with(JobMeta(JOB, "drip"), *extra)
    assert err.value.job_id == JOB  # the worker can answer the job with a failed status
