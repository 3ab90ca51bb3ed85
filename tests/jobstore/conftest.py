"""The ledger tests' config: no broker (port 1 refuses at once), so a rebuild reads the photo
store alone unless a test starts one."""

from __future__ import annotations

import pytest

from booth.config import load_config


@pytest.fixture
def share_cfg(tmp_path):
    """share_cfg(toml="") → a config with its data dir under tmp_path and no broker."""

    def _make(toml: str = ""):
        (tmp_path / "booth.toml").write_text(toml)
        return load_config(
            tmp_path / "booth.toml",
            env={
                "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
                "BOOTH_DATA_DIR": str(tmp_path / "data"),
                "BOOTH_ID": "testbooth",
            },
        )

    return _make
