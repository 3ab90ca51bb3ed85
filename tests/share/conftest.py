"""Fixtures of the share tests: a config and ledger in a temp data dir, a running server."""

from __future__ import annotations

import pytest

from booth.config import load_config
from jobstore.ledger import Ledger, ledger_path
from share.server import make_app
from tests.share.helpers import ServerThread


@pytest.fixture
def share_cfg(tmp_path):
    """A config without a broker (port 1 refuses at once); tests needing MQTT use make_config."""

    def _make(toml: str = "", **env: str):
        path = tmp_path / "booth.toml"
        path.write_text(toml)
        base = {
            "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
            "BOOTH_DATA_DIR": str(tmp_path / "data"),
            "BOOTH_ID": "testbooth",
        }
        base.update(env)
        return load_config(path, env=base)

    return _make


@pytest.fixture
def cfg(share_cfg):
    return share_cfg('[share]\npublic_url = "http://booth.test:8080"\n')


@pytest.fixture
def ledger(cfg):
    led = Ledger(ledger_path(cfg.data_dir))
    yield led
    led.close()


@pytest.fixture
def serve():
    """serve(cfg, **make_app_kwargs) → a started ServerThread (stopped after the test)."""
    started = []

    def _serve(cfg, **kwargs):
        srv = ServerThread(make_app(cfg, **kwargs)).start()
        started.append(srv)
        return srv

    yield _serve
    for srv in started:
        srv.stop()


@pytest.fixture
def server(cfg, ledger, serve):
    return serve(cfg, ledger=ledger)
