"""Links a phone scans and codes a guest types: upper-case QR links, any-case tokens, older
tokens as issued, short codes with a limit on wrong guesses, pages in the booth's language."""

from __future__ import annotations

import sqlite3

import pytest

from jobstore.ledger import Ledger, ledger_path
from jobstore.links import CODE_ALPHABET, canonical_code, canonical_token, qr_link, share_url
from share import server as share_server
from tests.share.helpers import add_job

LEGACY = "PFQIYPZVvRFX1KzqEDz_qvv6fUZ6sfAX"  # a token as the booth issued them before


def test_the_qr_link_is_upper_case_and_the_server_answers_it(cfg, ledger, server):
    job = add_job(cfg, ledger)
    cfg.share.public_url = server.base
    url = share_url(cfg, job.token)
    link = qr_link(url)
    assert link == f"HTTP://127.0.0.1:{server.port}/P/{job.token}" and link == link.upper()
    path = "/" + link.split("/", 3)[3]
    status, _, body = server.get(path)
    assert status == 200 and f'src="/p/{job.token}/photo.jpg"'.encode() in body
    for variant in (job.token.lower(), job.token.capitalize()):
        assert server.get(f"/p/{variant}")[0] == 200
        assert server.get(f"/P/{variant}/photo.jpg")[0] == 200
    # a base URL with a path keeps its case (a proxy in front may care)
    assert (
        qr_link("https://photos.example.org/Booth/p/abc")
        == "https://photos.example.org/Booth/p/abc"
    )


def test_older_tokens_keep_working_exactly_as_issued(cfg, ledger, server):
    job = add_job(cfg, ledger)
    db = sqlite3.connect(ledger_path(cfg.data_dir))
    db.execute("UPDATE jobs SET token = ? WHERE job_id = ?", (LEGACY, job.job_id))
    db.commit()
    db.close()
    assert canonical_token(LEGACY) == LEGACY
    assert server.get(f"/p/{LEGACY}")[0] == 200
    assert server.get(f"/p/{LEGACY}/photo.jpg")[0] == 200
    assert server.get(f"/p/{LEGACY.upper()}")[0] == 404  # mixed case: exact only
    assert server.get(f"/p/{LEGACY.lower()}")[0] == 404


def test_a_typed_code_opens_the_photo(cfg, ledger, server):
    job = add_job(cfg, ledger)
    code = ledger.get(job.job_id).code
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    typed = [code, code.lower(), f"{code[:3]}-{code[3:]}", f" {code[:3]} {code[3:]} ".lower()]
    if "0" in code:
        typed.append(code.replace("0", "O"))
    if "1" in code:
        typed += [code.replace("1", "I"), code.replace("1", "l")]
    for t in typed:
        assert canonical_code(t) == code, t
    for path in (
        f"/{code}",
        f"/{code.lower()}",
        f"/{code[:3]}-{code[3:]}",
        f"/?code={code}",
        f"/?code={code[:3]}+{code[3:]}",
    ):
        status, headers, _ = server.get(path)
        assert status == 302, path
        assert headers["location"] == f"/p/{job.token}"
    # the form a guest who cannot scan types into
    status, headers, body = server.get("/")
    assert status == 200 and b'name="code"' in body and b"<form" in body
    assert "form-action 'self'" in headers["content-security-policy"]


def test_wrong_codes_are_limited(cfg, ledger, serve, monkeypatch):
    monkeypatch.setattr(share_server, "CODE_MAX_FAILURES", 3)
    monkeypatch.setattr(share_server, "CODE_MAX_FAILURES_ALL", 5)
    srv = serve(cfg, ledger=ledger)
    job = add_job(cfg, ledger)
    code = ledger.get(job.job_id).code
    wrong = [c for c in ("ZZZZZZ", "YYYYYY", "XXXXXX", "WWWWWW") if c != code]
    for w in wrong[:3]:
        status, _, body = srv.get(f"/{w}")
        assert status == 404 and b"No photo has that code" in body and w.encode() in body
    status, headers, body = srv.get(f"/{code}")  # even the right one, for a minute
    assert status == 429 and headers["retry-after"] == "60" and b"Too many tries" in body
    assert srv.get(f"/p/{job.token}")[0] == 200  # scanned links are never limited
    # every client together: the overall limit holds even when addresses change
    throttle = srv.app[share_server.CODE_THROTTLE]
    throttle.succeeded("127.0.0.1")  # this client starts afresh …
    throttle.failed("10.0.0.1")  # … while two other clients guess wrong
    throttle.failed("10.0.0.2")
    assert srv.get(f"/{code}")[0] == 429


@pytest.mark.parametrize(
    "lang,words",
    [("de", "Foto herunterladen"), ("fr", "Télécharger la photo"), ("es", "Descargar foto")],
)
def test_the_phone_page_speaks_the_booths_language(share_cfg, serve, lang, words):
    cfg = share_cfg(f'[kiosk]\nlanguage = "{lang}"\n')
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        srv = serve(cfg, ledger=ledger)
        job = add_job(cfg, ledger)
        status, _, body = srv.get(f"/p/{job.token}")
        html = body.decode()
        assert status == 200 and f'<html lang="{lang}">' in html and words in html
        assert "Download photo" not in html
        status, _, body = srv.get("/p/nothing-here-at-all")
        assert status == 404 and f'lang="{lang}"' in body.decode()
    finally:
        ledger.close()
