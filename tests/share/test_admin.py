"""The operator pages: their own app (own listener), absent without a password, a login that
gives a session, the dashboard's jobs with links and QRs, and guessing throttled for good."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import cv2
import numpy as np
import pytest

from booth.protocol import JobStatus
from jobstore.ledger import Ledger, ledger_path
from share.admin import make_admin_app
from share.auth import LoginThrottle, Sessions
from share.server import make_app
from tests.share.helpers import ServerThread, add_job
from tests.support.phonecam import decode_screenshot

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _decode_svg_qr(svg: str) -> str:
    """Draw the SVG path's unit cells (qrcode's "M{x},{y}H…V…H…z") and read it with OpenCV."""
    box = re.search(r'viewBox="0 0 (\d+) \d+"', svg)
    assert box is not None, "no viewBox in the SVG"
    n = int(box.group(1))
    img: np.ndarray = np.full((n, n), 255, np.uint8)
    for x, y in re.findall(r"M(\d+),(\d+)H", svg):
        img[int(y), int(x)] = 0
    img = cv2.resize(img, (n * 8, n * 8), interpolation=cv2.INTER_NEAREST)
    found = decode_screenshot(img)  # (the classic detector alone misses ~1 % of sharp codes)
    return found.pop() if len(found) == 1 else ""


@pytest.fixture
def operator(share_cfg):
    """(cfg, ledger, guests' server, operator server) with an operator password set."""
    started = []

    def _make(password="s3cret-pass", throttle=None):
        cfg = share_cfg(
            '[share]\npublic_url = "http://booth.test:8080/"\n', BOOTH_ADMIN_PASSWORD=password
        )
        ledger = Ledger(ledger_path(cfg.data_dir))
        guests = make_app(cfg, ledger=ledger)
        g = ServerThread(guests).start()
        a = ServerThread(make_admin_app(guests, throttle=throttle)).start()
        started.append((g, a, ledger))
        return cfg, ledger, g, a

    yield _make
    for g, a, ledger in started:
        a.stop()
        g.stop()
        ledger.close()


def login(srv, password: str, source: str | None = None):
    return srv.request(
        "POST", "/admin/login", FORM, urlencode({"password": password}).encode(), source=source
    )


def session_cookie(headers: dict[str, str]) -> str:
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    return cookie.split(";", 1)[0]


def test_operator_pages_are_404_without_a_password(operator):
    cfg, ledger, guests, admin = operator(password="")
    job = add_job(cfg, ledger)
    for path in (
        "/admin",
        "/admin/login",
        f"/admin/thumb/{job.job_id}.jpg",
        f"/admin/qr/{job.job_id}.svg",
    ):
        assert admin.get(path)[0] == 404, path
    assert login(admin, "")[0] == 404


def test_the_guests_listener_has_no_operator_pages(operator):
    cfg, ledger, guests, admin = operator()
    job = add_job(cfg, ledger)
    for path in ("/admin", "/admin/login", f"/admin/thumb/{job.job_id}.jpg"):
        assert guests.get(path)[0] == 404, path
    assert login(guests, "s3cret-pass")[0] in (404, 405)


def test_without_a_session_nothing_is_shown(operator):
    cfg, ledger, guests, admin = operator()
    job = add_job(cfg, ledger)
    status, headers, _ = admin.get("/admin")
    assert status == 303 and headers["location"] == "/admin/login"
    for cookie in ("", "booth_admin=forged-session-token", "booth_admin="):
        for path in (f"/admin/thumb/{job.job_id}.jpg", f"/admin/qr/{job.job_id}.svg"):
            status, _h, body = admin.get(path, Cookie=cookie) if cookie else admin.get(path)
            assert status == 401, (path, cookie)
            assert job.job_id.encode() not in body
    # basic auth no longer means anything
    import base64

    basic = "Basic " + base64.b64encode(b"operator:s3cret-pass").decode()
    assert admin.get("/admin", Authorization=basic)[0] == 303


def test_login_gives_a_session_for_the_dashboard_and_logout_ends_it(operator, output_dir):
    import json

    cfg, ledger, guests, admin = operator()
    now = time.time()
    done = add_job(cfg, ledger, created_at=now - 3600)
    pending = add_job(cfg, ledger, status=JobStatus.PENDING)
    failed = add_job(cfg, ledger, status=JobStatus.FAILED)
    earlier = add_job(cfg, ledger, created_at=now - 5 * 3600)  # the same event: a 4 h pause
    before = add_job(cfg, ledger, created_at=now - 12 * 3600)  # the event before (7 h pause)

    status, _h, body = admin.get("/admin/login")
    assert status == 200 and b'type="password"' in body
    status, headers, body = login(admin, "wrong")
    assert status == 401 and b"not right" in body and "set-cookie" not in headers
    status, headers, _ = login(admin, "s3cret-pass")
    assert status == 303 and headers["location"] == "/admin"
    cookie = {"Cookie": session_cookie(headers)}

    # the dashboard: a page that updates itself from /admin/api/state (no meta refresh)
    status, headers, body = admin.request("GET", "/admin", cookie)
    assert status == 200 and headers["cache-control"] == "no-store"
    csp = headers["content-security-policy"]
    assert "form-action 'self'" in csp and "script-src 'nonce-" in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "connect-src 'self'" in csp and "unsafe" not in script_src
    html = body.decode()
    (output_dir / "share-admin.html").write_text(html)
    assert 'http-equiv="refresh"' not in html and "/admin/api/state" in html
    status, headers, body = admin.request("GET", "/admin/api/state", cookie)
    assert status == 200
    jobs = {j["id"]: j for j in json.loads(body)["jobs"]}
    assert set(jobs) == {done.job_id, pending.job_id, failed.job_id, earlier.job_id}
    assert before.job_id not in jobs
    assert jobs[done.job_id]["link"] == f"http://booth.test:8080/p/{done.token}"
    assert jobs[pending.job_id]["phase"] == "in_progress"
    assert jobs[failed.job_id]["phase"] == "failed" and jobs[failed.job_id]["link"] is None
    # thumbnail: a small JPEG of the result
    status, headers, thumb = admin.request("GET", f"/admin/thumb/{done.job_id}.jpg", cookie)
    assert status == 200 and headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and max(img.shape[:2]) <= 240
    # QR of the guest's link, decodable
    status, headers, svg = admin.request("GET", f"/admin/qr/{done.job_id}.svg", cookie)
    assert status == 200 and headers["content-type"].startswith("image/svg+xml")
    # (in the QR's compact upper case, as on the booth screen)
    assert _decode_svg_qr(svg.decode()) == f"HTTP://BOOTH.TEST:8080/P/{done.token}"
    # no thumbnail or QR for a job without a result
    assert admin.request("GET", f"/admin/thumb/{pending.job_id}.jpg", cookie)[0] == 404
    assert admin.request("GET", f"/admin/qr/{failed.job_id}.svg", cookie)[0] == 404
    assert admin.request("GET", "/admin/thumb/not..valid.jpg", cookie)[0] == 404
    assert admin.request("GET", "/admin/api/state")[0] == 401

    # a form posted from another site is refused; from this page it logs out
    evil = {**cookie, "Origin": "http://evil.test"}
    assert admin.request("POST", "/admin/logout", evil, b"")[0] == 403
    status, headers, _ = admin.request("POST", "/admin/logout", cookie, b"")
    assert status == 303 and headers["location"] == "/admin/login"
    assert admin.request("GET", "/admin", cookie)[0] == 303
    assert admin.request("GET", "/admin/api/state", cookie)[0] == 401


def test_a_thumbnail_bomb_on_disk_is_refused_before_decoding(operator):
    """A result file declaring 20000×20000 (stored before the kiosk guarded its results)."""
    from tests.support.bombs import png_bomb

    cfg, ledger, guests, admin = operator()
    job = add_job(cfg, ledger)
    job.result.write_bytes(png_bomb(20000, 20000))
    cookie = {"Cookie": session_cookie(login(admin, "s3cret-pass")[1])}
    assert admin.request("GET", f"/admin/thumb/{job.job_id}.jpg", cookie)[0] == 404


def test_guessing_locks_the_address_and_even_the_right_password_waits(operator):
    cfg, ledger, guests, admin = operator()
    codes = [login(admin, f"guess{i}", source="127.0.0.9")[0] for i in range(12)]
    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}
    status, headers, _ = login(admin, "s3cret-pass", source="127.0.0.9")
    assert status == 429 and int(headers["retry-after"]) > 0
    # another address is not punished for it
    assert login(admin, "s3cret-pass", source="127.0.0.10")[0] == 303


def test_2000_guesses_from_many_addresses_never_unlock_a_locked_one(operator):
    """The old table was cleared past 1000 addresses: guessing from many addresses unlocked
    a locked one. Now: the locked address stays locked, and the total is capped too."""
    cfg, ledger, guests, admin = operator()
    for i in range(10):
        login(admin, f"guess{i}", source="127.0.0.2")
    assert login(admin, "s3cret-pass", source="127.0.0.2")[0] == 429
    codes = []
    for i in range(2000):
        source = f"127.{1 + i // 250 % 250}.{i % 250 + 1}.{3 + i // 62500}"
        codes.append(login(admin, f"spray{i}", source=source)[0])
    assert codes.count(401) <= 100, "the total guessing rate is capped"
    assert codes.count(429) >= 1900
    assert login(admin, "s3cret-pass", source="127.0.0.2")[0] == 429


def test_throttle_table_full_of_locked_addresses_fails_closed():
    """Without a total cap, a full table still never forgets an address that counts."""
    now = [0.0]
    t = LoginThrottle(per_address=3, total=None, window_s=60, capacity=50, clock=lambda: now[0])
    for _ in range(3):
        t.failed("10.0.0.1")
    assert t.wait_s("10.0.0.1") > 0
    for i in range(1000):
        t.failed(f"10.1.{i // 250}.{i % 250}")
    assert t.wait_s("10.0.0.1") > 0, "a locked address was forgotten"
    assert t.wait_s("10.9.9.9") > 0, "a new address gets in only when there is room"
    now[0] = 61.0  # the window passes: everyone may try again
    assert t.wait_s("10.0.0.1") == 0 and t.wait_s("10.9.9.9") == 0
    # IPv6: one /64 is one client
    for i in range(3):
        t.failed(f"2001:db8::{i + 1}")
    assert t.wait_s("2001:db8::ffff") > 0 and t.wait_s("2001:db8:0:1::1") == 0


def test_sessions_expire_and_are_not_guessable():
    now = [0.0]
    s = Sessions(ttl_s=10, clock=lambda: now[0])
    token = s.create()
    assert s.valid(token) and not s.valid(token[:-1] + "x") and not s.valid("")
    now[0] = 11
    assert not s.valid(token)
