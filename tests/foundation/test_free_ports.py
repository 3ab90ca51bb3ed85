"""free_loopback_port (appliance/services.py): the kernel's pick by default; with BOOTH_FREE_PORTS
a range handed out in turn, which parallel test workers and their children share without ever
getting the same port (tests/conftest.py gives each worker its own range)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import pytest

from appliance.services import FREE_PORTS_ENV, free_loopback_port

# Above the ranges tests/conftest.py hands to pytest processes, below the kernel's ephemeral ports.
RANGE = (32100, 32299)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_without_a_range_the_kernel_picks_a_free_port(monkeypatch):
    monkeypatch.delenv(FREE_PORTS_ENV, raising=False)
    port = free_loopback_port()
    assert 1024 <= port <= 65535 and _bindable(port)


@pytest.fixture(autouse=True)
def own_state(tmp_path, monkeypatch):
    """The range's turn is kept in the temp dir: this test's own, not another run's."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_processes_sharing_a_range_never_get_the_same_port(tmp_path):
    """Four processes take 40 ports each at the same time from one 200-port range: 160
    different ports, all in the range (a bind-and-close to port 0 promises neither)."""
    lo, hi = RANGE
    env = {**os.environ, FREE_PORTS_ENV: f"{lo}-{hi}", "TMPDIR": str(tmp_path)}
    code = (
        "from appliance.services import free_loopback_port\n"
        "print(' '.join(str(free_loopback_port()) for _ in range(40)))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    ports = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        ports += [int(x) for x in out.split()]
    assert len(ports) == 160 and len(set(ports)) == 160
    assert all(lo <= p <= hi for p in ports)


def test_a_bound_port_is_skipped_and_the_range_wraps(monkeypatch):
    lo = RANGE[1] + 1
    monkeypatch.setenv(FREE_PORTS_ENV, f"{lo}-{lo + 2}")
    with socket.socket() as held:
        held.bind(("127.0.0.1", lo + 1))
        held.listen()
        got = [free_loopback_port() for _ in range(4)]
    assert lo + 1 not in got and set(got) == {lo, lo + 2}
    assert got[0] != got[1] and got[2] == got[0]  # in turn, then from the start again


def test_a_range_with_every_port_bound_is_an_error(monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        monkeypatch.setenv(FREE_PORTS_ENV, f"{port}-{port}")
        with pytest.raises(RuntimeError, match="bound"):
            free_loopback_port()
    monkeypatch.setenv(FREE_PORTS_ENV, "9-8")
    with pytest.raises(ValueError, match="LO-HI"):
        free_loopback_port()
