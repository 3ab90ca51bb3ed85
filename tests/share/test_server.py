"""The share server over real HTTP on a free port: pages, downloads, ranges, ETags, 404s, errors."""

from __future__ import annotations

import re
import time

from booth.protocol import JobStatus
from jobstore.ledger import Ledger, ledger_path
from tests.share.helpers import NO_FACE, PORTRAIT, add_job


def test_completed_page_renders_and_links_image(cfg, ledger, server):
    job = add_job(cfg, ledger)
    status, headers, body = server.get(f"/p/{job.token}")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    html = body.decode()
    assert f'src="/p/{job.token}/photo.jpg"' in html
    assert f'href="/p/{job.token}/photo.jpg?dl=1"' in html
    assert cfg.kiosk.title in html
    assert 'id="share"' in html and "navigator.share" in html
    # self-contained: no external assets of any kind
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html
    # the inline script runs only with this response's nonce
    nonce = re.search(r'<script nonce="([^"]+)">', html).group(1)
    assert f"'nonce-{nonce}'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    # its image is served
    status, headers, img = server.get(f"/p/{job.token}/photo.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert img == PORTRAIT.read_bytes()
    assert headers["content-disposition"].startswith("inline")


def test_download_is_the_stored_result_as_an_attachment(cfg, ledger, server):
    add_job(cfg, ledger)  # an earlier shot that day makes this one number 0002
    job = add_job(cfg, ledger, result_src=NO_FACE)
    status, headers, body = server.get(f"/p/{job.token}/photo.jpg?dl=1")
    assert status == 200
    assert body == job.result.read_bytes() == NO_FACE.read_bytes()
    day = time.strftime("%Y-%m-%d", time.localtime(job.created_at))
    assert headers["content-disposition"].startswith(f'attachment; filename="drip-{day}-0002.jpg"')
    assert headers["accept-ranges"] == "bytes"
    assert "private" in headers["cache-control"]
    # the page offers the same name to the browser's download attribute
    page = server.get(f"/p/{job.token}")[2].decode()
    assert f'download="drip-{day}-0002.jpg"' in page


def test_range_request_returns_the_right_slice(cfg, ledger, server):
    job = add_job(cfg, ledger)
    data = job.result.read_bytes()
    path = f"/p/{job.token}/photo.jpg"
    status, headers, body = server.get(path, Range="bytes=1000-4999")
    assert status == 206
    assert body == data[1000:5000]
    assert headers["content-range"] == f"bytes 1000-4999/{len(data)}"
    # resume from an offset to the end, and a suffix range
    status, _, body = server.get(path, Range=f"bytes={len(data) - 777}-")
    assert status == 206 and body == data[-777:]
    status, _, body = server.get(path, Range="bytes=-100")
    assert status == 206 and body == data[-100:]
    status, headers, _ = server.get(path, Range=f"bytes={len(data) + 10}-")
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}"


def test_etag_revalidation_and_head(cfg, ledger, server):
    job = add_job(cfg, ledger)
    path = f"/p/{job.token}/photo.jpg"
    status, headers, body = server.get(path)
    etag = headers["etag"]
    assert status == 200 and etag
    status, headers2, body2 = server.get(path, If_None_Match=etag)
    assert status == 304 and body2 == b""
    assert headers2["etag"] == etag
    status, _, body3 = server.get(path, If_None_Match='"something-else"')
    assert status == 200 and body3 == body
    status, headers, body = server.request("HEAD", path)
    assert status == 200 and body == b""
    assert int(headers["content-length"]) == job.result.stat().st_size
    assert headers["etag"] == etag


def test_unknown_expired_pending_and_failed_tokens_are_404(share_cfg, serve):
    cfg = share_cfg("retention_days = 2\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        srv = serve(cfg, ledger=ledger)
        fresh = add_job(cfg, ledger)
        expired = add_job(cfg, ledger, created_at=time.time() - 3 * 86400)
        pending = add_job(cfg, ledger, status=JobStatus.PENDING)
        processing = add_job(cfg, ledger, status=JobStatus.PROCESSING, with_result=False)
        failed = add_job(cfg, ledger, status=JobStatus.FAILED)
        assert expired.token
        # unfinished jobs have no token: only the kiosk storing a result issues one
        assert pending.token is None and processing.token is None and failed.token is None
        assert srv.get(f"/p/{fresh.token}")[0] == 200
        for token in (
            expired.token,
            "A" * 32,
            "unknown-token-0123456789",
            pending.job_id,
            processing.job_id,
            failed.job_id,
        ):
            for path in (f"/p/{token}", f"/p/{token}/photo.jpg", f"/p/{token}/photo.jpg?dl=1"):
                status, headers, body = srv.get(path)
                assert status == 404, path
                assert b"can't find that photo" in body
                assert headers["content-type"].startswith("text/html")
        # a result whose file disappeared is a 404 too, not a 500
        fresh.result.unlink()
        assert srv.get(f"/p/{fresh.token}/photo.jpg")[0] == 404
        assert srv.get(f"/p/{fresh.token}")[0] == 404
    finally:
        ledger.close()


def test_result_stored_before_the_completed_status_is_served(cfg, ledger, server):
    """The kiosk shows the QR once the result is stored; the link must work from then on."""
    job = add_job(cfg, ledger, status=JobStatus.PROCESSING)  # result stored, status lagging
    assert ledger.get(job.job_id).status is JobStatus.PROCESSING and job.token
    status, _, body = server.get(f"/p/{job.token}/photo.jpg")
    assert status == 200 and body == job.result.read_bytes()


def test_thousand_random_tokens_are_all_404(cfg, ledger, server):
    import http.client
    import secrets

    add_job(cfg, ledger)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    statuses = set()
    try:
        for i in range(1000):
            token = secrets.token_urlsafe(24)
            path = f"/p/{token}/photo.jpg" if i % 2 else f"/p/{token}"
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            statuses.add(resp.status)
    finally:
        conn.close()
    assert statuses == {404}


def test_no_directory_listing_anywhere(cfg, ledger, server):
    add_job(cfg, ledger)
    for path in (
        "/p",
        "/p/",
        "/photos",
        "/photos/",
        "/data/",
        "/ledger.sqlite",
        "/static/",
        "/admin/thumb/",
        "/.git/config",
    ):
        status, _, body = server.get(path)
        assert status == 404, path
        assert b"Index of" not in body and b"ledger" not in body
    status, _, body = server.get("/")  # the short-code form, nothing else
    assert status == 200 and b'name="code"' in body and b"Index of" not in body


def test_event_title_is_escaped(share_cfg, serve):
    cfg = share_cfg('[kiosk]\ntitle = "<script>alert(1)</script> & \\"Friends\\""\n')
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        srv = serve(cfg, ledger=ledger)
        job = add_job(cfg, ledger)
        for path in (f"/p/{job.token}", "/p/nope"):
            html = srv.get(path)[2].decode()
            assert "<script>alert(1)" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Friends&quot;" in html
    finally:
        ledger.close()


def test_internal_error_is_a_friendly_500_without_trace(cfg, serve, caplog):
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger)
    srv = serve(cfg, ledger=ledger)
    assert srv.get(f"/p/{job.token}")[0] == 200
    ledger.close()  # the database goes away under the server
    status, headers, body = srv.get(f"/p/{job.token}", Accept="text/html")
    assert status == 500
    text = body.decode()
    assert "Something went wrong" in text
    for leak in ("Traceback", "sqlite", "ProgrammingError", ".py", "line "):
        assert leak not in text
    assert headers["content-type"].startswith("text/html")
    status, _, body = srv.get("/healthz")
    assert status == 503 and b"Traceback" not in body


def test_healthz_names_the_booth_and_to_this_machine_its_data_dir(server, cfg):
    """`booth snap` uses it to know that the server on its port is its own booth's."""
    import json
    from pathlib import Path

    status, headers, body = server.get("/healthz")
    assert status == 200
    assert json.loads(body) == {
        "ok": True,
        "booth_id": "testbooth",
        "data_dir": str(Path(cfg.data_dir).resolve()),
    }
    assert headers["cache-control"] == "no-store"


def test_method_not_allowed_is_a_page(cfg, ledger, server):
    job = add_job(cfg, ledger)
    status, headers, body = server.request(
        "POST", f"/p/{job.token}/photo.jpg", {"Content-Length": "0"}
    )
    assert status == 405
    assert "GET" in headers["allow"]
    assert b"<!doctype html>" in body


def test_log_paths_never_hold_a_whole_token():
    from share.server import mask_path

    token = "Zq3xYp0-abcdEFGHijklMNOPqrstUVWX"
    assert mask_path(f"/p/{token}") == "/p/…UVWX"
    assert mask_path(f"/p/{token}/photo.jpg") == "/p/…UVWX/photo.jpg"
    assert mask_path("/p/ab") == "/p/…"
    assert mask_path("/healthz") == "/healthz"
    assert len(mask_path("/x" * 1000)) == 200
