"""Fixtures every suite shares (a real mosquitto, config objects, output folders), and the marks
that sort the tests into `make test-quick` and the parallel `make test` (docs/testing.md).

Marks set here, so that a new test lands in the right set without anyone remembering:
- `e2e`: every test under tests/e2e (the whole booth as real processes);
- `broker`: every test that uses the `broker` fixture, itself or through another fixture. A test
  that starts a mosquitto of its own carries the mark by hand; starting one without it fails
  (tests/support/mosquitto.py), so a forgotten mark shows in the first run, quick or full;
- `browser`: every test in a module that imports the Chromium driver (tests/share/cdp.py).
By hand in the test files: `netns` (network namespaces), `network` (pip reaches the package
index), `slow`.

`make test` runs the tests in pytest-xdist workers (--dist loadgroup). Tests of one xdist_group
run one after the other on one worker: "browser" (each Chromium takes a core while it renders),
and "cpu1" and "cpu2", one per core of a 2-core machine, for the tests that keep a core busy for
tens of seconds (the QR and type reads of every screen, the two pip installs): at most two of
them run at once, and the other workers' timed tests are not starved.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.services import FREE_PORTS_ENV
from tests.support import mosquitto
from tests.support.mosquitto import Mosquitto

# Headless pygame for every test, set before anything imports pygame.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUTPUT = ROOT / "tests" / "output"

# BOOTH_MQTT_URL of a test that uses no broker: nothing listens on port 1, a connect is refused
# at once.
NO_BROKER_URL = "mqtt://127.0.0.1:1"

# Each pytest process (the serial run, or each xdist worker gw0, gw1, ...) and the processes it
# starts take their loopback ports from a range of their own, below the kernel's ephemeral
# ports: no port a worker picks can be picked by another worker, nor taken by an outgoing
# connection, before its server binds it (appliance/services.py, free_loopback_port).
PORTS_FROM, PORTS_PER_PROCESS = 20000, 1000


def _port_range() -> str | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") else 0
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    lo = PORTS_FROM + index * PORTS_PER_PROCESS
    hi = lo + PORTS_PER_PROCESS - 1
    return f"{lo}-{hi}" if hi < ephemeral else None


# Set, not defaulted: xdist workers inherit the controlling process's environment.
_ports = _port_range()
if _ports:
    os.environ[FREE_PORTS_ENV] = _ports
else:
    os.environ.pop(FREE_PORTS_ENV, None)


def pytest_configure(config: pytest.Config) -> None:
    # tests/output/ is git-ignored, so a clean clone has none; some tests write into its folders
    # without making them. Made here once, not by whichever test a worker happens to run first
    # (in a parallel run the QR report's test came first and found no folder).
    for folder in ("screens", "worker"):
        (OUTPUT / folder).mkdir(parents=True, exist_ok=True)


def _imports_chromium(module: object) -> bool:
    return any(
        getattr(value, "__module__", None) == "tests.share.cdp" for value in vars(module).values()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e = ROOT / "tests" / "e2e"
    for item in items:
        if item.path.is_relative_to(e2e):
            item.add_marker(pytest.mark.e2e)
        if "broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)
        module = getattr(item, "module", None)
        if module is not None and _imports_chromium(module):
            item.add_marker(pytest.mark.browser)
            # one Chromium at a time: each takes a core while it renders
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    mosquitto.test_may_start_broker = item.get_closest_marker("broker") is not None


@pytest.fixture
def broker(tmp_path):
    """A real mosquitto on a free loopback port; `broker.restart()` restarts it mid-test."""
    m = Mosquitto(tmp_path / "mosquitto")
    m.start()
    yield m
    m.stop(kill=True)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def output_dir() -> Path:
    """tests/output/ (git-ignored): screenshots and images for a person to look at."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture
def make_config(tmp_path, request):
    """Build a Config with a temp data dir (env isolated). Its broker is the test's `broker`
    when the test uses that fixture (itself or through another, such as `worker`); otherwise
    NO_BROKER_URL, and no mosquitto is started for a test that never touches MQTT."""
    from booth.config import load_config

    def _make(toml: str = "", **env: str):
        path = tmp_path / "booth.toml"
        path.write_text(toml)
        uses_broker = "broker" in request.fixturenames
        base = {
            "BOOTH_MQTT_URL": request.getfixturevalue("broker").url
            if uses_broker
            else NO_BROKER_URL,
            "BOOTH_DATA_DIR": str(tmp_path / "data"),
            "BOOTH_ID": "testbooth",
        }
        base.update(env)
        return load_config(path, env=base)

    return _make
