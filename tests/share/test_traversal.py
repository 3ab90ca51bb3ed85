"""Hostile paths: every one gets a 4xx and no file outside the store is ever opened.

The server runs in this process, so a Python audit hook sees every file it opens (`open` events
of builtins and os.open); the test asserts none of them lies outside the data dir during the
attack, and that a canary file beside the data dir never shows up in a response.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from tests.share.helpers import add_job

_opened: list[str] = []
_recording = threading.Event()


def _hook(event: str, args: tuple) -> None:
    if _recording.is_set() and event == "open" and args and isinstance(args[0], (str, bytes, Path)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_hook)  # cannot be removed; it records only while the flag is set


def _attacks(token: str) -> list[str]:
    t = token
    return [
        "/p/../../etc/passwd",
        "/p/..%2F..%2Fetc%2Fpasswd",
        "/p/%2e%2e/%2e%2e/etc/passwd",
        "/p/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/p/%252e%252e%252f%252e%252e%252fetc%252fpasswd",  # double-encoded
        "/p/..%252F..%252Fetc%252Fpasswd",
        "/p/..\\..\\etc\\passwd",
        "/p/..%5c..%5cetc%5cpasswd",
        "/p/%2e%2e%5c%2e%2e%5cledger.sqlite",
        f"/p/{t}/../../ledger.sqlite",
        f"/p/{t}/..%2f..%2fledger.sqlite",
        f"/p/{t}/photo.jpg/../../../canary.txt",
        f"/p/{t}%2f..%2f..%2fcanary.txt/photo.jpg",
        "/p/....//....//etc/passwd",
        "/p/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",  # overlong UTF-8 dots
        "/p/%00/photo.jpg",
        f"/p/{t}%00/photo.jpg",
        f"/p/{t}%00.jpg",
        "/p/" + "A" * 5000,
        "/p/" + "A" * 5000 + "/photo.jpg",
        "/p/" + "a%2f" * 300,
        "/p//etc/passwd",
        "/p/%2Fetc%2Fpasswd/photo.jpg",
        "//etc/passwd",
        "/admin/thumb/..%2F..%2Fledger.jpg",
        "/admin/qr/..%2f..%2fetc%2fpasswd.svg",
        "/healthz/../ledger.sqlite",
        "/ledger.sqlite",
        "/photos/",
    ]


def test_path_traversal_variants_are_4xx_and_read_nothing_outside(cfg, ledger, server, tmp_path):
    data_dir = Path(cfg.data_dir).resolve()
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-SECRET-CONTENT")
    job = add_job(cfg, ledger)
    # control: the hook does see the server opening a stored file
    _opened.clear()
    _recording.set()
    assert server.get(f"/p/{job.token}/photo.jpg")[0] == 200
    _recording.clear()
    assert str(job.result.resolve()) in [str(Path(p).resolve()) for p in _opened]
    _opened.clear()
    _recording.set()
    try:
        for path in _attacks(job.token):
            status, _, body = server.get(path)
            assert 400 <= status < 500, (path, status)
            assert b"CANARY" not in body and b"root:" not in body and b"SQLite" not in body
        # request lines http.client will not send: raw bytes, NUL and backslashes, huge line
        end = b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for target in (
            b"/p/\x00/photo.jpg",
            b"/p/..\\..\\etc\\passwd",
            b"/p/../../etc/passwd",
            b"/p/" + b"B" * 20000,
            b"../../etc/passwd",
            b"/p/" + job.token.encode() + b"\x00/photo.jpg",
        ):
            reply = server.raw(b"GET " + target + end)
            status = int(reply.split(b" ", 2)[1])
            assert 400 <= status < 500, (target[:60], reply[:80])
            assert b"root:" not in reply and b"Traceback" not in reply
    finally:
        _recording.clear()
    outside = [
        p
        for p in _opened
        if not Path(p).resolve().is_relative_to(data_dir)
        and not p.startswith(("/proc/", "/dev/"))
        and "site-packages" not in p
        and not p.startswith(sys.prefix)
        and not p.startswith(sys.base_prefix)
    ]
    assert outside == [], outside
    # the traversal requests did not even open a stored file
    assert not any(Path(p).resolve().is_relative_to(data_dir / "photos") for p in _opened)
