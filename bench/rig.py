"""What the end-to-end benchmarks start around the code they measure: the environment a booth's
processes read (a local broker, the fake Gemini, a data dir, a config file) and a worker
process in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.fake_gemini import FakeGemini
from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[1]


def booth_env(
    tmp: Path, broker: Mosquitto, fake: FakeGemini, conf: Path, booth_id: str = "bench"
) -> dict[str, str]:
    """This process's environment with the booth pointed at `broker`, `fake` and `conf`, its
    data under `tmp`/data."""
    return dict(
        os.environ,
        BOOTH_MQTT_URL=broker.url,
        BOOTH_DATA_DIR=str(tmp / "data"),
        BOOTH_ID=booth_id,
        GEMINI_API_KEY="bench-key",
        GEMINI_BASE_URL=fake.url,
        BOOTH_CONFIG=str(conf),
    )


def start_worker(env: dict[str, str], *args: str, quiet: bool = True) -> subprocess.Popen:
    """`booth worker` with `args` in `env`; its output dropped when `quiet`."""
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=out,
    )
