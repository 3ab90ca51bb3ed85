"""The health board (booth/healthboard.py) and the topics and message it reads: every part
judged from its availability, its health and its silence; malformed messages counted and
dropped; another booth's messages ignored."""

from __future__ import annotations

import json

import pytest

from booth.healthboard import HealthBoard
from booth.protocol import Health, Problem, ProtocolError, TopicKind, Topics, utc_now_iso

T = Topics("booth")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_health_topics_of_the_kiosk_and_the_services_round_trip():
    assert T.booth_health("b1") == "booth/b1/health"
    assert T.service_health("b1", "share") == "booth/b1/share/health"
    assert T.service_availability("b1", "share") == "booth/b1/share/availability"
    assert T.service_health("b1", "uploader") == "booth/b1/uploader/health"
    assert T.booth_services("b1") == [
        "booth/b1/share/+",
        "booth/b1/uploader/+",
        "booth/b1/printer/+",
    ]
    p = T.parse("booth/b1/health")
    assert (p.kind, p.booth) == (TopicKind.BOOTH_HEALTH, "b1")
    p = T.parse("booth/b1/share/availability")
    assert (p.kind, p.booth, p.service) == (TopicKind.SERVICE_AVAILABILITY, "b1", "share")
    p = T.parse("booth/b1/uploader/health")
    assert (p.kind, p.service) == (TopicKind.SERVICE_HEALTH, "uploader")
    for bad in (
        "booth/b1/other/health",
        "booth/b1/share/other",
        "booth/b1/share",
        "booth/b1/health/x",
    ):
        with pytest.raises(ProtocolError):
            T.parse(bad)
    with pytest.raises(ProtocolError):
        T.service_health("b1", "kiosk")


def test_health_problems_round_trip_and_are_checked():
    h = Health(
        "error",
        part="kiosk",
        id="b1",
        problems=(
            Problem("camera_stuck", "error", "no camera", "check the cable"),
            Problem("clock", "warn", "clock not synchronized"),
        ),
        extra={"disk_free_mb": 812},
    )
    back = Health.from_json(h.to_json())
    assert back == h and back.extra == {"disk_free_mb": 812}
    base = {"state": "warn", "updated_at": utc_now_iso()}
    for bad, fragment in [
        ({**base, "problems": {}}, "list"),
        ({**base, "problems": [{"code": "x", "level": 3, "reason": "r"}]}, "level"),
        ({**base, "problems": [{"code": 1, "level": "warn", "reason": "r"}]}, "code"),
        ({**base, "problems": ["x"]}, "objects"),
    ]:
        with pytest.raises(ProtocolError, match=fragment):
            Health.from_dict(bad)
    # an older sender (no problems field) is still read
    assert Health.from_dict(base).problems == ()


def _board() -> tuple[HealthBoard, Clock]:
    clock = Clock()
    return HealthBoard(T, "b1", stale_s=100, mono=clock), clock


def _parts(board: HealthBoard, **kw) -> dict[str, object]:
    return {p.key: p for p in board.parts(**kw)}


def test_nothing_heard_is_unknown_and_no_worker_is_red():
    board, _ = _board()
    parts = _parts(board)
    assert parts["kiosk/b1"].level == "unknown" and parts["share/b1"].level == "unknown"
    assert parts["workers"].level == "error" and "photos are paused" in parts["workers"].reason
    assert "uploader/b1" not in parts  # cloud off and nothing heard
    assert "uploader/b1" in _parts(board, cloud=True)
    assert board.worst() == "error"


def test_each_part_judged_by_availability_health_and_silence():
    board, clock = _board()
    ok = Health("ok", part="kiosk", id="b1").to_json()
    assert board.feed("booth/b1/availability", b"online")
    assert board.feed("booth/b1/health", ok)
    board.feed("booth/workers/w1/availability", b"online")
    board.feed(
        "booth/workers/w1/health",
        Health("error", id="w1", ai="key_rejected", reason="key rejected", fix="new key").to_json(),
    )
    board.feed("booth/workers/w0/availability", b"offline")
    board.feed("booth/b1/share/availability", b"online")
    board.feed(
        "booth/b1/share/health", Health("warn", part="share", id="b1", reason="refusals").to_json()
    )
    parts = _parts(board)
    assert parts["kiosk/b1"].level == "ok"
    assert "workers" not in parts  # one is online
    assert (parts["worker/w1"].level, parts["worker/w1"].fix) == ("error", "new key")
    assert parts["worker/w0"].level == "offline"  # workers come and go: not a problem alone
    assert parts["share/b1"].level == "warn"
    # the kiosk dies: its will says offline; its last health stays, judged red
    board.feed("booth/b1/availability", b"offline")
    kiosk = _parts(board)["kiosk/b1"]
    assert kiosk.level == "error" and "offline" in kiosk.reason and "booth-kiosk" in kiosk.fix
    # the share server goes silent (a frozen process keeps its connection)
    clock.t += 101
    board.feed("booth/workers/w1/health", Health("ok", id="w1", ai="ok").to_json())
    parts = _parts(board)
    assert parts["share/b1"].level == "warn" and "no health report" in parts["share/b1"].reason
    assert parts["worker/w1"].level == "ok"
    # the last worker goes offline: photos are paused
    board.feed("booth/workers/w1/availability", b"offline")
    assert _parts(board)["workers"].level == "error"


def test_junk_and_other_booths_do_not_count():
    board, _ = _board()
    assert not board.feed("booth/b2/health", Health("error", part="kiosk").to_json())
    assert not board.feed("booth/b1/status/job00000001", b"{}")
    assert not board.feed("elsewhere/b1/health", b"{}")
    assert board.feed("booth/b1/health", b"\xff not json")
    assert board.feed("booth/workers/w1/availability", b"maybe")
    assert board.ignored == 2
    assert _parts(board)["kiosk/b1"].level == "unknown"
    # a cleared retained message forgets the part
    board.feed("booth/workers/w9/availability", b"online")
    assert "worker/w9" in _parts(board)
    board.feed("booth/workers/w9/availability", b"")
    assert "worker/w9" not in _parts(board)


def test_the_uploader_lives_and_dies_with_the_share_server():
    board, _ = _board()
    board.feed("booth/b1/share/availability", b"online")
    board.feed("booth/b1/uploader/health", Health("ok", part="uploader", id="b1").to_json())
    assert _parts(board, cloud=True)["uploader/b1"].level == "ok"
    board.feed("booth/b1/share/availability", b"offline")
    assert _parts(board, cloud=True)["uploader/b1"].level == "error"
    view = _parts(board, cloud=True)["uploader/b1"].to_dict()
    assert json.loads(json.dumps(view))["title"] == "Cloud uploads"
