"""The operator gallery: absent without a password, basic auth, today's jobs with links and QRs."""

from __future__ import annotations

import base64
import re
import time

import cv2
import numpy as np

from booth.protocol import JobStatus
from jobstore.ledger import Ledger, ledger_path
from share.lookup import day_start
from tests.share.helpers import add_job


def _auth(password: str, user: str = "operator") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _decode_svg_qr(svg: str) -> str:
    """Draw the SVG path's unit cells (qrcode's "M{x},{y}H…V…H…z") and read it with OpenCV."""
    n = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    img = np.full((n, n), 255, np.uint8)
    for x, y in re.findall(r"M(\d+),(\d+)H", svg):
        img[int(y), int(x)] = 0
    img = cv2.resize(img, (n * 8, n * 8), interpolation=cv2.INTER_NEAREST)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    return text


def test_admin_is_404_without_a_password(cfg, ledger, server):
    job = add_job(cfg, ledger)
    for path in ("/admin", f"/admin/thumb/{job.job_id}.jpg", f"/admin/qr/{job.job_id}.svg"):
        status, headers, _ = server.get(path, Authorization=_auth(""))
        assert status == 404, path
        assert "www-authenticate" not in headers


def _admin_server(share_cfg, serve, password="s3cret-pass"):
    cfg = share_cfg('[share]\npublic_url = "http://booth.test:8080/"\n',
                    BOOTH_ADMIN_PASSWORD=password)
    ledger = Ledger(ledger_path(cfg.data_dir))
    return cfg, ledger, serve(cfg, ledger=ledger)


def test_admin_wrong_password_is_401(share_cfg, serve):
    cfg, ledger, srv = _admin_server(share_cfg, serve)
    try:
        job = add_job(cfg, ledger)
        for headers in ({}, {"Authorization": _auth("wrong")}, {"Authorization": "Basic !!!"},
                        {"Authorization": "Bearer s3cret-pass"},
                        {"Authorization": _auth("s3cret-pass ")}):
            for path in ("/admin", f"/admin/thumb/{job.job_id}.jpg",
                         f"/admin/qr/{job.job_id}.svg"):
                status, h, body = srv.request("GET", path, headers)
                assert status == 401, (path, headers)
                assert h["www-authenticate"].startswith("Basic realm=")
                assert job.job_id.encode() not in body
    finally:
        ledger.close()


def test_admin_right_password_lists_todays_jobs(share_cfg, serve, output_dir):
    cfg, ledger, srv = _admin_server(share_cfg, serve)
    try:
        now = time.time()
        today = max(day_start(now) + 60, now - 3600)
        done = add_job(cfg, ledger, created_at=today)
        pending = add_job(cfg, ledger, status=JobStatus.PENDING)
        failed = add_job(cfg, ledger, status=JobStatus.FAILED)
        yesterday = add_job(cfg, ledger, created_at=day_start(now) - 3600)
        auth = {"Authorization": _auth("s3cret-pass")}
        status, headers, body = srv.request("GET", "/admin", auth)
        assert status == 200
        assert headers["cache-control"] == "no-store"
        html = body.decode()
        (output_dir / "share-admin.html").write_text(html)
        for job in (done, pending, failed):
            assert f'title="{job.job_id}"' in html
        assert yesterday.job_id not in html
        assert f"http://booth.test:8080/p/{done.token}" in html  # the link to re-send
        assert 'class="st pending"' in html and 'class="st failed"' in html
        # thumbnail: a small JPEG of the result
        status, headers, thumb = srv.request("GET", f"/admin/thumb/{done.job_id}.jpg", auth)
        assert status == 200 and headers["content-type"] == "image/jpeg"
        img = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and max(img.shape[:2]) <= 240
        # QR of the guest's link, decodable
        status, headers, svg = srv.request("GET", f"/admin/qr/{done.job_id}.svg", auth)
        assert status == 200 and headers["content-type"].startswith("image/svg+xml")
        # (in the QR's compact upper case, as on the booth screen)
        assert _decode_svg_qr(svg.decode()) == f"HTTP://BOOTH.TEST:8080/P/{done.token}"
        # no thumbnail or QR for a job without a result
        assert srv.request("GET", f"/admin/thumb/{pending.job_id}.jpg", auth)[0] == 404
        assert srv.request("GET", f"/admin/qr/{failed.job_id}.svg", auth)[0] == 404
        assert srv.request("GET", "/admin/thumb/not..valid.jpg", auth)[0] == 404
    finally:
        ledger.close()


def test_admin_throttles_password_guessing(share_cfg, serve):
    cfg, ledger, srv = _admin_server(share_cfg, serve)
    try:
        codes = [srv.request("GET", "/admin", {"Authorization": _auth(f"guess{i}")})[0]
                 for i in range(25)]
        assert codes[:20] == [401] * 20
        assert set(codes[20:]) == {429}
        # even the right password waits out the window: guessing cannot be sped up
        status, headers, _ = srv.request("GET", "/admin", {"Authorization": _auth("s3cret-pass")})
        assert status == 429 and int(headers["retry-after"]) > 0
    finally:
        ledger.close()
