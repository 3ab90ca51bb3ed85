"""Fuzz the two HTTP listeners' request handling: the guest listener (share/server.py) and the
operator listener (share/admin.py), each running in this process on a loopback port with a
stored photo and an operator password. Every request, however malformed, is answered below 500
and logs no error (aiohttp's own parser errors are quietened as the share process does).

The input is a raw request: the first byte picks the listener, the rest is sent as it is, with
`{job}`, `{token}` and `{port}` replaced by the stored photo's job id and token and the port,
so the fuzzer reaches the routes that need them."""

from __future__ import annotations

import logging
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from fuzz.harness import fuzz

_state: dict[str, Any] = {}


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}")


def _start() -> dict[str, Any]:
    """Both listeners on one config, the way share/cli.py makes them."""
    from booth.config import load_config
    from jobstore.ledger import Ledger, ledger_path
    from share.admin import make_admin_app
    from share.auth import LoginThrottle
    from share.server import make_app, quiet_bad_requests
    from tests.share.helpers import ServerThread, add_job

    tmp = Path(tempfile.mkdtemp(prefix="fuzz-http-"))
    (tmp / "booth.toml").write_text('[share]\npublic_url = "http://booth.test:8080/"\n')
    cfg = load_config(
        tmp / "booth.toml",
        env={
            "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
            "BOOTH_DATA_DIR": str(tmp / "data"),
            "BOOTH_ID": "fuzz",
            "BOOTH_ADMIN_PASSWORD": "fuzz-password",
        },
    )
    quiet_bad_requests()
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger)
    guests = make_app(cfg, ledger=ledger)
    servers = [
        ServerThread(guests).start(),
        ServerThread(make_admin_app(guests, throttle=LoginThrottle(total=None))).start(),
    ]
    return {"servers": servers, "job": job, "errors": errors}


def one_input(data: bytes) -> None:
    if not data:
        return
    if not _state:
        _state.update(_start())
    s = _state
    server = s["servers"][data[0] % 2]
    request = (
        data[1:]
        .replace(b"{job}", s["job"].job_id.encode())
        .replace(b"{token}", (s["job"].token or "").encode())
        .replace(b"{port}", str(server.port).encode())
    )
    reply = _exchange(server.port, request)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    status = int(m.group(1)) if m else 0
    errors, s["errors"].seen[:] = list(s["errors"].seen), []
    assert status < 500, (status, reply[:200])
    assert not errors, errors


def _exchange(port: int, request: bytes, wait_s: float = 0.3) -> bytes:
    """Send `request` and read the first answer: until its headers and Content-Length body are
    in, the server closes, or it stays silent for `wait_s` (a request still waiting for its
    body, or a kept-alive connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.settimeout(wait_s)
        try:
            sock.sendall(request)
        except OSError:  # the server answered and closed before taking it all
            pass
        reply = b""
        while True:
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    return reply
            try:
                chunk = sock.recv(65536)
            except OSError:
                return reply
            if not chunk:
                return reply
            reply += chunk


def close() -> None:
    for server in _state.get("servers", []):
        server.stop()
    _state.clear()


if __name__ == "__main__":
    fuzz(one_input, "http", ["-max_len=4096", "-timeout=20"])
