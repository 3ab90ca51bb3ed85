"""The share server under hostile clients: idle and slow sockets are closed, one address cannot
hold more than its share of connections, and a flood costs a few log lines — while a guest's
download goes through."""

from __future__ import annotations

import errno
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from booth.logs import RateLimitFilter
from jobstore.ledger import Ledger, ledger_path
from share.conncaps import (
    FDS_PER_CONNECTION,
    FDS_RESERVED,
    ConnectionGuard,
    accept_burst,
    address_key,
    connections_for_fd_limit,
)
from share.server import make_app
from tests.share.helpers import ROOT, ServerThread, add_job
from tests.support.mosquitto import free_port


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Did the server close (or reset) this connection within `within` seconds?"""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))


@pytest.mark.parametrize("fd_limit", [256, 1024, 16384, 1048576])
def test_the_caps_leave_room_for_what_asyncio_accepts_before_the_guard(fd_limit):
    """Open connections at the cap, plus three accept bursts in flight, plus the reserve, fit
    the descriptor limit (on a busy machine the 1100-socket test below ran out without it)."""
    burst = accept_burst(fd_limit)
    total = connections_for_fd_limit(4000, fd_limit)
    assert 16 <= burst <= 1024 and total >= 16
    assert total * FDS_PER_CONNECTION + 3 * burst + FDS_RESERVED <= fd_limit
    if fd_limit >= 16384:
        assert total == 4000 and burst == 1024  # a real unit's LimitNOFILE costs nothing


@pytest.fixture
def guarded(cfg, ledger):
    servers = []

    def _serve(**limits):
        guard = ConnectionGuard(
            **{"per_address": 4, "total": 100, "header_timeout_s": 1.0, **limits}
        )
        srv = ServerThread(make_app(cfg, ledger=ledger), guard, keepalive_timeout=5.0).start()
        servers.append(srv)
        return srv, guard

    yield _serve
    for srv in servers:
        srv.stop()


def test_a_socket_that_sends_nothing_or_trickles_is_closed(guarded):
    srv, guard = guarded()
    silent = connect(srv.port)
    loris = connect(srv.port)
    loris.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    for _ in range(3):  # one header line every 0.4 s: never finishes within the deadline
        time.sleep(0.4)
        try:
            loris.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
    assert closed_by_server(silent, 3) and closed_by_server(loris, 3)
    assert time.monotonic() - t0 < 3
    assert guard.timed_out == 2 and guard.open_total == 0


def test_keep_alive_requests_after_the_first_are_not_cut(guarded):
    """The header deadline is for the first request; a phone reusing its connection for the
    photo a little later is served."""
    srv, guard = guarded()
    s = connect(srv.port)
    f = s.makefile("rb")
    for _ in range(3):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status = f.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        length = 0
        while (line := f.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        f.read(length)
        time.sleep(0.7)  # 2.1 s in all: past the 1 s header deadline
    s.close()


def test_one_address_gets_its_share_and_no_more(guarded, cfg, ledger):
    srv, guard = guarded(per_address=4)
    job = add_job(cfg, ledger)
    hog = [connect(srv.port, "127.0.0.5") for _ in range(10)]
    time.sleep(0.3)  # well inside the 1 s header deadline
    refused = sum(closed_by_server(s, 0.02) for s in hog)
    assert refused == 6 and guard.refused == 6
    assert guard.open[address_key("127.0.0.5")] == 4
    # another guest is served at once
    status, _h, body = srv.request("GET", f"/p/{job.token}/photo.jpg", source="127.0.0.6")
    assert status == 200 and body == job.result.read_bytes()
    for s in hog:
        s.close()


def test_rate_limited_log_drops_a_flood_and_says_so():
    now = [0.0]
    filt = RateLimitFilter(burst=5, every_s=10, clock=lambda: now[0])

    def rec(msg: str) -> logging.LogRecord:
        return logging.LogRecord("share.conncaps", logging.WARNING, __file__, 1, msg, (), None)

    passed = [filt.filter(rec("refused a connection from %s")) for _ in range(1000)]
    assert sum(passed) == 5
    assert filt.filter(rec("another kind of line"))  # one flood never silences another kind
    now[0] = 10.0
    r = rec("refused a connection from %s")
    assert filt.filter(r) and "[995 similar lines dropped]" in r.msg


@pytest.mark.slow
def test_1100_idle_sockets_from_one_address_while_a_guest_downloads(tmp_path):
    """The attack the caps are for, on a real `booth share` with systemd's 1024 descriptors:
    the guest's download works, the idle sockets are closed, the log stays short."""
    data = tmp_path / "data"
    port = free_port()
    toml = tmp_path / "booth.toml"
    toml.write_text(
        f'[share]\nhost = "127.0.0.1"\nport = {port}\nadmin_host = ""\n'
        f'header_timeout_s = 3\npublic_url = "http://127.0.0.1:{port}"\n'
    )
    env = {
        **os.environ,
        "BOOTH_CONFIG": str(toml),
        "BOOTH_DATA_DIR": str(data),
        "BOOTH_ID": "hostile",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    from booth.config import load_config

    cfg = load_config(toml, env=env)
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger)
    ledger.close()

    def fds_1024() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2000:  # this test process holds the 1100 sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    log = tmp_path / "share.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "share", "--no-mqtt"],
            env=env,
            cwd=str(ROOT),
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=fds_1024,
        )
    socks: list[socket.socket] = []
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < end, log.read_text()
                time.sleep(0.1)
        for _ in range(1100):
            try:
                socks.append(connect(port, "127.0.0.1"))
            except OSError as exc:  # the backlog overflowed: the rest still count as attempts
                assert exc.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT)
        t0 = time.monotonic()
        conn = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)
        )
        conn.sendall(
            f"GET /p/{job.token}/photo.jpg HTTP/1.1\r\nHost: booth\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
        conn.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert reply.endswith(job.result.read_bytes())
        assert time.monotonic() - t0 < 5
        # every idle socket of the attacker ends: reset at once, or after the header deadline
        still_open = [s for s in socks if not closed_by_server(s, 0.01)]
        time.sleep(3.5)
        assert not [s for s in still_open if not closed_by_server(s, 0.5)]
        assert proc.poll() is None
        urllib.request.urlopen(url + "/healthz", timeout=5).close()
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(20)
    text = log.read_text()
    lines = text.splitlines()
    assert len(lines) < 300, f"{len(lines)} log lines:\n" + "\n".join(lines[:50])
    assert 1 <= text.count("refused a connection from 127.0.0.1") <= 25
    assert re.search(r"stopping \(since start: ([0-9]{3,}) connections refused", text), lines[-3:]
    assert "Too many open files" not in text and "Traceback" not in text
