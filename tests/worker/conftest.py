"""Fixtures for the worker suite: a fake Gemini server, worker configs, in-process workers."""

from __future__ import annotations

import pytest

from tests.support.fake_gemini import FakeGemini
from tests.worker.helpers import OUT, Kiosk

API_KEY = "dummy-test-key-not-real"


@pytest.fixture
def fake():
    with FakeGemini() as server:
        yield server


@pytest.fixture
def worker_config(make_config, fake):
    """Config for a worker on the test broker and the fake Gemini; `key=False` → no API key."""

    def _make(worker: str = "", key: bool = True, extra: str = "", **env: str):
        toml = f'[worker]\nid = "w1"\ngrace_s = 5\n{worker}\n{extra}'
        base = {"GEMINI_BASE_URL": fake.url}
        if key:
            base["GEMINI_API_KEY"] = API_KEY
        base.update(env)
        return make_config(toml, **base)

    return _make


@pytest.fixture
def kiosk(broker):
    k = Kiosk(broker.port)
    yield k
    k.close()


@pytest.fixture
def start_worker(kiosk):
    """Start in-process workers (stopped at the end); waits until each is subscribed."""
    from worker.service import Worker

    started = []

    def _start(cfg, worker_id: str | None = None):
        seen = len(kiosk.messages)
        w = Worker(cfg, worker_id=worker_id).start()
        started.append(w)
        assert w.wait_ready(15), "worker did not connect"
        # its live `online` is published after its subscription: then jobs reach it
        assert kiosk.worker_online(w.id, after=seen), "worker did not announce itself online"
        return w

    yield _start
    for w in started:
        w.stop(grace_s=0)


@pytest.fixture
def out_dir():
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT
