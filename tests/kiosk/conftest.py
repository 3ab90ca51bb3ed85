"""Fixtures for the kiosk suite: a config (on the real broker when the test uses one), a KioskApp
factory, a fake worker."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from tests.kiosk.helpers import FakeWorker, kiosk_toml


class FakeClock:
    """A monotonic clock the test moves by hand (countdowns, timeouts, watchdog)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture
def kiosk_config(make_config):
    def _make(extra: str = "", **kw):
        return make_config(kiosk_toml(extra, **kw))

    return _make


@pytest.fixture
def worker(broker):
    w = FakeWorker(broker.port)
    yield w
    w.close()


@pytest.fixture
def make_app():
    """Build KioskApps (closed at the end)."""
    from kiosk.ui.app import KioskApp

    apps = []

    def _make(cfg, size=(800, 480), **kw):
        kw.setdefault("gpio", False)
        app = KioskApp(cfg, size, **kw)
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.close()


@pytest.fixture
def controllers(broker):
    """controllers(cfg, **kw) → a started JobController on the test broker, stopped after."""
    from kiosk.jobs.controller import JobController

    made = []

    def _make(cfg, **kw):
        c = JobController(cfg, **kw).start()
        assert c.mqtt.wait_connected(10)
        made.append(c)
        return c

    yield _make
    for c in made:
        c.stop()
