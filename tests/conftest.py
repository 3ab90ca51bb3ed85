"""Fixtures every suite shares: a real mosquitto, config objects, output folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto

# Headless pygame for every test, set before anything imports pygame.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUTPUT = ROOT / "tests" / "output"


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
def make_config(tmp_path, broker):
    """Build a Config pointed at the test broker and a temp data dir (env isolated)."""
    from booth.config import load_config

    def _make(toml: str = "", **env: str):
        path = tmp_path / "booth.toml"
        path.write_text(toml)
        base = {
            "BOOTH_MQTT_URL": broker.url,
            "BOOTH_DATA_DIR": str(tmp_path / "data"),
            "BOOTH_ID": "testbooth",
        }
        base.update(env)
        return load_config(path, env=base)

    return _make
