"""The `booth` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BOOTH = str(Path(sys.executable).with_name("booth"))


def test_help_lists_every_subcommand():
    out = subprocess.run([BOOTH, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for cmd in ("up", "kiosk", "worker", "share", "snap", "doctor"):
        assert f"    {cmd}" in out.stdout


def test_bad_config_exits_78_with_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[worker]\nconcurency = 3\n")
    out = subprocess.run(
        [BOOTH, "--config", str(bad), "doctor", "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 78
    assert "worker.concurency" in out.stderr and str(bad) in out.stderr


def test_print_config_masks_secrets(tmp_path):
    cfgfile = tmp_path / "ok.toml"
    cfgfile.write_text('booth_id = "cli-test"\n')
    env = {
        "PATH": "/usr/bin:/bin",
        "GEMINI_API_KEY": "super-secret-key-123",
        "BOOTH_MQTT_URL": "mqtt://u:hunter2@127.0.0.1:1",
    }
    out = subprocess.run(
        [BOOTH, "--config", str(cfgfile), "doctor", "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "cli-test" in out.stdout
    assert "super-secret-key-123" not in out.stdout + out.stderr
    assert "hunter2" not in out.stdout + out.stderr
