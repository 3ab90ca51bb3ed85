"""The two HTTP listeners on any request: the guest listener (share/server.py) and the operator
listener (share/admin.py) answer every request, however malformed, with a status below 500 and
log no internal error; a login whose body or origin cannot be read is a 400 that the password
throttle counts. The requests outside tools found are regression cases."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.properties  # noqa: F401  (the Hypothesis profile)
from jobstore.ledger import Ledger, ledger_path
from share.admin import make_admin_app
from share.auth import LoginThrottle
from share.server import make_app, quiet_bad_requests
from tests.share.helpers import ServerThread, add_job
from tests.support.properties import costly

PASSWORD = "s3cret-pass"


# ---------------------------------------------------------------------------- the servers
@pytest.fixture
def listeners(share_cfg):
    """(guest server, operator server, throttle, a job with a result) on one config."""
    quiet_bad_requests()  # as share/cli.py does: aiohttp's parser errors are the client's
    cfg = share_cfg(
        '[share]\npublic_url = "http://booth.test:8080/"\n', BOOTH_ADMIN_PASSWORD=PASSWORD
    )
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger)
    guests = make_app(cfg, ledger=ledger)
    throttle = LoginThrottle(per_address=1_000_000, total=None)
    g = ServerThread(guests).start()
    a = ServerThread(make_admin_app(guests, throttle=throttle)).start()
    yield g, a, throttle, job
    a.stop()
    g.stop()
    ledger.close()


class Errors(logging.Handler):
    """Error records of the share server's loggers while a block runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("share") or record.name.startswith("aiohttp"):
            self.records.append(record)


@contextmanager
def no_internal_errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]


def exchange(
    srv: ServerThread, method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, bytes]:
    """One raw HTTP/1.1 request (anything a client could send): the status of the answer (0
    when the server closed the connection without one) and the whole reply."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nConnection: close\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    reply = srv.raw(head.encode("utf-8", "surrogateescape") + body)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return (int(m.group(1)) if m else 0), reply


def send(
    srv: ServerThread, method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> int:
    return exchange(srv, method, path, headers, body)[0]


def from_the_app(reply: bytes) -> bool:
    """Did a handler answer (share/server.py security_headers names the server), or aiohttp's
    HTTP parser before any handler ran (a header no client may send)?"""
    head = reply.split(b"\r\n\r\n", 1)[0]
    return b"\r\nServer: booth-share" in head


# ---------------------------------------------------------------------------- strategies
header_text = st.one_of(
    st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"]), max_size=80),
    # bytes that are not UTF-8: aiohttp hands them over as lone surrogates
    st.binary(max_size=40)
    .filter(lambda b: not set(b) & {0, 10, 13})
    .map(lambda b: b.decode("utf-8", "surrogateescape")),
)
boundaries = st.one_of(
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=80),
    st.just("x" * 71),
    st.just(""),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
            "application/json",
        ]
    ),
    boundaries.map(lambda b: f"multipart/form-data; boundary={b}"),
    boundaries.map(lambda b: f'multipart/form-data; boundary="{b}"'),
    header_text,
)
origins = st.one_of(
    st.sampled_from(
        ["null", "http://[::1", "http://[", "http://127.0.0.1", "http://evil.test", "://"]
    ),
    header_text,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A login form body: url-encoded, multipart with the same or another boundary, or bytes."""
    password = draw(st.text(max_size=20))
    kind = draw(st.sampled_from(["form", "multipart", "bytes"]))
    if kind == "form":
        return f"password={quote(password)}".encode()
    if kind == "multipart":
        b = draw(boundaries)
        part = (
            f'--{b}\r\nContent-Disposition: form-data; name="password"\r\n\r\n{password}\r\n'
            f"--{b}--\r\n"
        )
        return part.encode("utf-8", "surrogateescape")
    return draw(st.binary(max_size=300))


ADMIN_PATHS = [
    "/",
    "/admin",
    "/admin/login",
    "/admin/logout",
    "/admin/api/state",
    "/admin/api/state?page=x&per=-1",
    "/admin/api/jobs/{job}/delete",
    "/admin/event.zip",
    "/admin/original/{job}.jpg",
    "/admin/original/{job}/thumb.jpg",
    "/admin/thumb/{job}.jpg",
    "/admin/qr/{job}.svg",
    "/metrics",
    "/favicon.ico",
]
GUEST_PATHS = [
    "/",
    "/healthz",
    "/favicon.ico",
    "/p/{token}",
    "/P/{token}",
    "/p/{token}/photo.jpg",
    "/{code}",
    "/p/{text}",
    "/p/{text}/photo.jpg",
    "/{text}",
]
path_text = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="#?"), max_size=40
)


def fill(template: str, job: str, token: str, text: str) -> str:
    return (
        template.replace("{job}", job)
        .replace("{token}", token)
        .replace("{code}", text[:7])
        .replace("{text}", text)
    )


# ---------------------------------------------------------------------------- properties
def test_the_operator_listener_answers_any_request_below_500(listeners):
    guests, admin, throttle, job = listeners

    @costly
    @given(
        st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]),
        st.sampled_from(ADMIN_PATHS),
        st.sampled_from([job.job_id, "x", "../../etc/passwd", "0" * 64]) | path_text,
        st.lists(
            st.one_of(
                st.tuples(st.just("Origin"), origins),
                st.tuples(st.just("Content-Type"), content_types),
                st.tuples(st.just("Cookie"), header_text),
                st.tuples(st.just("Authorization"), header_text.map(lambda t: "Bearer " + t)),
                st.tuples(
                    st.sampled_from(["Accept-Language", "Range", "X-Forwarded-For"]), header_text
                ),
            ),
            max_size=4,
        ),
        bodies(),
    )
    def check(method, template, job_id, headers, body):
        path = fill(template, quote(job_id, safe=""), "", job_id)
        with no_internal_errors():
            status = send(admin, method, path, headers, body)
        assert 0 < status < 500, (method, path, headers, body, status)

    check()


def test_the_guest_listener_answers_any_request_below_500(listeners):
    guests, admin, throttle, job = listeners

    @costly
    @given(
        st.sampled_from(["GET", "HEAD", "POST", "PUT", "OPTIONS"]),
        st.sampled_from(GUEST_PATHS),
        st.sampled_from([job.token or "", job.token.upper() if job.token else "", "x" * 40])
        | path_text,
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "Range",
                        "If-None-Match",
                        "If-Modified-Since",
                        "If-Range",
                        "Accept-Language",
                        "Origin",
                        "Cookie",
                        "Content-Type",
                    ]
                ),
                header_text
                | st.sampled_from(
                    ["bytes=0-", "bytes=-5", "bytes=9999999-", "bytes=5-1", "de;q=nan", "*"]
                ),
            ),
            max_size=4,
        ),
        st.binary(max_size=200),
    )
    def check(method, template, text, headers, body):
        path = fill(template, "", quote(text, safe="/"), quote(text, safe=""))
        with no_internal_errors():
            status = send(guests, method, path, headers, body)
        assert 0 < status < 500, (method, path, headers, body, status)

    check()


def test_every_unreadable_login_is_a_400_the_throttle_counts(listeners):
    guests, admin, throttle, job = listeners

    @costly
    @given(content_types, bodies())
    def check(content_type, body):
        before = len(throttle._all)
        with no_internal_errors():
            status, reply = exchange(
                admin, "POST", "/admin/login", [("Content-Type", content_type)], body
            )
        assert status in (400, 401), (content_type, body, status)
        if from_the_app(reply):  # (a header the HTTP parser refuses never reaches the login)
            assert len(throttle._all) == before + 1, "a login that failed was not counted"

    check()


# ---------------------------------------------------------------------------- regressions
LOGINS = {
    "multipart without a boundary": ("multipart/form-data", b"password=x"),
    "a boundary the body lacks": ("multipart/form-data; boundary=abc", b"password=x"),
    "a 71-character boundary": (
        "multipart/form-data; boundary=" + "b" * 71,
        b"--" + b"b" * 71 + b'\r\nContent-Disposition: form-data; name="password"\r\n\r\nx\r\n'
        b"--" + b"b" * 71 + b"--\r\n",
    ),
}


@pytest.mark.parametrize("content_type, body", LOGINS.values(), ids=LOGINS.keys())
def test_a_login_body_that_cannot_be_read_is_a_400_counted_by_the_throttle(
    share_cfg, content_type, body
):
    cfg = share_cfg("", BOOTH_ADMIN_PASSWORD=PASSWORD)
    ledger = Ledger(ledger_path(cfg.data_dir))
    guests = make_app(cfg, ledger=ledger)
    admin = ServerThread(make_admin_app(guests, throttle=LoginThrottle(per_address=2))).start()
    try:
        with no_internal_errors():
            for _ in range(2):
                assert (
                    send(admin, "POST", "/admin/login", [("Content-Type", content_type)], body)
                    == 400
                )
        # two wrong tries were counted: even the right password waits now
        form = f"password={PASSWORD}".encode()
        status = send(
            admin,
            "POST",
            "/admin/login",
            [("Content-Type", "application/x-www-form-urlencoded")],
            form,
        )
        assert status == 429
    finally:
        admin.stop()
        ledger.close()


def test_an_origin_that_is_not_a_url_is_a_400(listeners):
    """`Origin: http://[::1` made urlsplit raise: a 500 before the throttle counted it."""
    guests, admin, throttle, job = listeners
    form = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://[::1")]
    with no_internal_errors():
        assert send(admin, "POST", "/admin/login", form, b"password=wrong") == 400
        assert len(throttle._all) == 1  # a login attempt: counted
        status, headers, _ = admin.request(
            "POST",
            "/admin/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            f"password={PASSWORD}".encode(),
        )
        assert status == 303
        cookie = [("Cookie", headers["set-cookie"].split(";", 1)[0])]
        assert send(admin, "POST", "/admin/logout", form + cookie, b"") == 400
        assert (
            send(admin, "POST", f"/admin/api/jobs/{job.job_id}/delete", form + cookie, b"") == 400
        )
    assert len(throttle._all) == 1  # the others are not logins
