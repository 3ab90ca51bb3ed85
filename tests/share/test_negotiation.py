"""What the share server answers depends on what the phone says it reads and accepts: the guest
pages in the phone's language when it is one of ours (Accept-Language), text gzipped when the
client takes it (Accept-Encoding), and the photo's box sized from the stored result itself."""

from __future__ import annotations

import gzip
import html
import http.client
import re
from pathlib import Path

import cv2
import pytest

from booth.texts import DE, EN, ES, FR
from jobstore.ledger import Ledger, ledger_path
from share.admin import make_admin_app
from share.pages import PhotoSize
from share.server import make_app, photo_size, pick_language, preferences
from tests.share.helpers import PORTRAIT, ServerThread, add_job

LANGS = ("en", "de", "fr", "es")


@pytest.mark.parametrize(
    ("header", "booth", "expected"),
    [
        ("de", "en", "de"),
        ("de-CH", "en", "de"),  # a regional variant: its language
        ("de-ch,de;q=0.9,en;q=0.8", "en", "de"),
        ("fr;q=0.1, es;q=0.9", "en", "es"),  # by weight, not by order
        ("es, fr", "en", "es"),  # equal weights: the header's order
        ("it, pt-BR;q=0.9", "de", "de"),  # none of ours: the booth's
        ("it, fr;q=0.5", "de", "fr"),  # one of ours further down
        ("de;q=0, fr", "en", "fr"),  # q=0: not acceptable
        ("*", "fr", "fr"),
        ("zh-Hant-TW, de;q=0.5", "en", "de"),
        ("en-US,en;q=0.9", "de", "en"),
        ("DE-AT", "en", "de"),
        ("de_DE", "en", "de"),  # some clients write an underscore
        ("", "es", "es"),
        (None, "es", "es"),
        ("de;q=2, fr", "en", "fr"),  # a weight out of range: that entry is skipped
        ("de;q=abc, es", "en", "es"),
        ("de;;q=0.5;x, es;q=0.4", "en", "de"),  # parameters other than q are ignored
        (";;;,,,=q", "de", "de"),
        ("a" * 10_000, "fr", "fr"),
    ],
)
def test_the_language_a_phone_gets(header, booth, expected):
    assert pick_language(header, LANGS, booth) == expected


def test_preferences_are_sorted_by_weight_and_keep_the_order_of_equal_ones():
    got = preferences("gzip;q=0.5, deflate, br;q=0.5, identity;q=0, *;q=0.001")
    assert [(p.value, p.q) for p in got] == [
        ("deflate", 1.0),
        ("gzip", 0.5),
        ("br", 0.5),
        ("*", 0.001),
        ("identity", 0.0),
    ]


def _lang(body: bytes) -> str:
    m = re.search(rb'<html lang="([a-z]+)"', body)
    assert m, body[:200]
    return m.group(1).decode()


def _html(text: str) -> bytes:
    """A text as the pages write it in an element (share/pages.py `_text`)."""
    return html.escape(text, quote=False).encode()


def test_the_photo_page_speaks_the_phones_language(cfg, ledger, server):
    job = add_job(cfg, ledger)
    path = f"/p/{job.token}"
    for header, lang, texts in (
        (None, "en", EN),
        ("de-CH,de;q=0.9,en;q=0.8", "de", DE),
        ("fr-FR", "fr", FR),
        ("es-419,es;q=0.9", "es", ES),
        ("ja,ko;q=0.8", "en", EN),
    ):
        status, headers, body = server.request(
            "GET", path, {"Accept-Language": header} if header else {}
        )
        assert status == 200
        assert _lang(body) == lang, header
        assert _html(texts["page_download"]) in body, header
        assert "accept-language" in headers["vary"].lower()


def test_the_code_page_and_the_not_found_page_follow_the_phone_too(cfg, ledger, server):
    for path, status, key in (("/", 200, "page_code_prompt"), ("/p/" + "Z" * 19, 404, None)):
        got, headers, body = server.request("GET", path, {"Accept-Language": "fr"})
        assert got == status
        assert _lang(body) == "fr"
        assert "accept-language" in headers["vary"].lower()
        if key:
            assert _html(FR[key]) in body
    got, _, body = server.request("GET", "/?code=ZZZZZZ", {"Accept-Language": "es"})
    assert got == 404 and _html(ES["page_code_wrong"]) in body


def test_overrides_apply_to_the_booths_language_only(share_cfg, serve):
    """The operator's `[texts]` are written in the booth's language: an English booth's
    override reaches English phones (and phones in a language we do not have), and a German
    phone gets the German catalog rather than a page in two languages."""
    cfg = share_cfg(
        '[kiosk]\nlanguage = "en"\n[texts]\npage_download = "Grab your drip"\n'
        '[share]\npublic_url = "http://booth.test:8080"\n'
    )
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        job = add_job(cfg, ledger)
        srv = serve(cfg, ledger=ledger)
        for header, expected, lang in (
            ("en-GB", "Grab your drip", "en"),
            ("it", "Grab your drip", "en"),
            (None, "Grab your drip", "en"),
            ("de", DE["page_download"], "de"),
        ):
            _, _, body = srv.request(
                "GET", f"/p/{job.token}", {"Accept-Language": header} if header else {}
            )
            assert _html(expected) in body and _lang(body) == lang, header
            if lang == "de":
                assert b"Grab your drip" not in body
    finally:
        ledger.close()


def test_a_german_booth_answers_an_english_phone_in_english(share_cfg, serve):
    cfg = share_cfg('[kiosk]\nlanguage = "de"\n')
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        job = add_job(cfg, ledger)
        srv = serve(cfg, ledger=ledger)
        _, _, body = srv.request("GET", f"/p/{job.token}", {"Accept-Language": "en-US"})
        assert _lang(body) == "en" and _html(EN["page_download"]) in body
        _, _, body = srv.request("GET", f"/p/{job.token}", {"Accept-Language": "pl"})
        assert _lang(body) == "de" and _html(DE["page_download"]) in body
    finally:
        ledger.close()


# ---------------------------------------------------------------------------- the photo's box
def _jpeg(path: Path, width: int, height: int, app_segment: int = 0) -> Path:
    source = cv2.imread(str(PORTRAIT))
    assert source is not None
    image = cv2.resize(source, (width, height))
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    raw = data.tobytes()
    # APP segments (as EXIF and ICC profiles are) between the start and the frame header
    pad = b"".join(
        b"\xff\xe2" + (65535).to_bytes(2, "big") + b"\0" * 65533 for _ in range(app_segment)
    )
    path.write_bytes(raw[:2] + pad + raw[2:])
    return path


def test_the_photo_has_its_box_before_it_loads(cfg, ledger, server, tmp_path):
    job = add_job(cfg, ledger, result_src=_jpeg(tmp_path / "r.jpg", 480, 640))
    _, _, body = server.request("GET", f"/p/{job.token}")
    img = re.search(rb'<img id="photo"[^>]*>', body)
    assert img, body
    tag = img.group(0).decode()
    assert 'width="480"' in tag and 'height="640"' in tag and "aspect-ratio:480/640" in tag


def test_photo_size_reads_headers_past_large_segments_and_survives_bad_files(tmp_path):
    far = _jpeg(tmp_path / "far.jpg", 300, 200, app_segment=6)  # frame header after 390 kB
    assert far.stat().st_size > 390_000
    assert photo_size(far) == PhotoSize(300, 200)
    png = _jpeg(tmp_path / "r.jpg", 64, 48).with_suffix(".png")
    cv2.imwrite(str(png), cv2.imread(str(tmp_path / "r.jpg")))
    assert photo_size(png) == PhotoSize(64, 48)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    assert photo_size(junk) is None
    assert photo_size(tmp_path / "gone.jpg") is None


def test_a_result_without_a_readable_size_still_gets_its_page(cfg, ledger, server, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    job = add_job(cfg, ledger, result_src=bad)
    status, _, body = server.request("GET", f"/p/{job.token}")
    img = re.search(rb'<img id="photo"[^>]*>', body)
    assert status == 200 and img and b"width=" not in img.group(0)


# ---------------------------------------------------------------------------- compression
def _get(srv: ServerThread, path: str, encoding: str | None, **headers: str):
    h = dict(headers)
    if encoding is not None:
        h["Accept-Encoding"] = encoding
    return srv.request("GET", path, h)


def test_pages_are_gzipped_for_clients_that_accept_it_and_photos_never(cfg, ledger, server):
    job = add_job(cfg, ledger)
    page = f"/p/{job.token}"
    _, plain_headers, plain = _get(server, page, None)
    assert "content-encoding" not in plain_headers
    for accept in ("gzip, deflate, br", "br;q=1, gzip;q=0.5", "*"):
        _, headers, body = _get(server, page, accept)
        assert headers.get("content-encoding") == "gzip", accept
        assert "accept-encoding" in headers["vary"].lower()
        # (the nonce differs between two renderings)
        text = gzip.decompress(body)
        nonce = re.compile(rb'nonce="[^"]*"')
        assert nonce.sub(b"", text) == nonce.sub(b"", plain)
        assert len(body) < len(plain) / 2
    for accept in ("gzip;q=0", "identity", "deflate", "br", "*;q=0"):
        _, headers, _ = _get(server, page, accept)
        assert "content-encoding" not in headers, accept
    for path in (page + "/photo.jpg", page + "/photo.jpg?dl=1"):
        _, headers, body = _get(server, path, "gzip")
        assert "content-encoding" not in headers and body == job.result.read_bytes()
    _, headers, _ = _get(server, "/", "gzip")  # the code page
    assert headers.get("content-encoding") == "gzip"


def _as_host(srv: ServerThread, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """A phone's request for another site, landing on the booth (its portal)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host, "Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_the_portals_connectivity_answers_stay_as_they_are(share_cfg, serve):
    srv = serve(share_cfg("[share]\nportal = true\n"))
    status, headers, body = _as_host(srv, "captive.apple.com", "/hotspot-detect.html")
    assert status == 200 and "content-encoding" not in headers and b"Success" in body
    status, headers, body = _as_host(srv, "example.com", "/somewhere")
    assert status == 404 and headers.get("content-encoding") == "gzip"


def test_the_operator_pages_and_their_data_are_gzipped_thumbnails_not(share_cfg):
    cfg = share_cfg('[share]\npublic_url = "http://booth.test:8080"\n', BOOTH_ADMIN_PASSWORD="pw")
    ledger = Ledger(ledger_path(cfg.data_dir))
    guests = make_app(cfg, ledger=ledger)
    srv = ServerThread(make_admin_app(guests)).start()
    try:
        job = add_job(cfg, ledger)
        _, headers, _ = srv.request(
            "POST",
            "/admin/login",
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.base},
            b"password=pw",
        )
        cookie = headers["set-cookie"].split(";", 1)[0]
        _, headers, _ = _get(srv, "/admin/login", "gzip")
        assert headers.get("content-encoding") == "gzip"
        for path, compressed in (
            ("/admin", True),
            ("/admin/api/state", True),
            (f"/admin/qr/{job.job_id}.svg", True),
            (f"/admin/thumb/{job.job_id}.jpg", False),
        ):
            status, headers, body = _get(srv, path, "gzip", Cookie=cookie)
            assert status == 200, path
            assert (headers.get("content-encoding") == "gzip") is compressed, path
            if compressed:
                gzip.decompress(body)
            else:
                assert body[:3] == b"\xff\xd8\xff"
    finally:
        srv.stop()
        ledger.close()
