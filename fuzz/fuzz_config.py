"""Fuzz the config loader (booth/config.py): any file and any environment give a Config whose
numbers are finite and within their bounds, or a one-line ConfigError (what `booth` prints
before exiting 78); never another exception."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from booth.config import ENV_OVERRIDES, ConfigError, load_config, settings
from fuzz.harness import fuzz

_DIR = Path(
    tempfile.mkdtemp(prefix="fuzz-config-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
)
_FILE = _DIR / "booth.toml"
_VARS = sorted(ENV_OVERRIDES)


def one_input(data: bytes) -> None:
    # an environment from the first line (VAR=value;VAR=value), the file from the rest
    first, _, rest = data.partition(b"\n")
    env: dict[str, str] = {}
    for item in first.decode("utf-8", "surrogateescape").split(";")[:4]:
        name, eq, value = item.partition("=")
        if eq and name.isdigit() and "\0" not in value:
            env[_VARS[int(name) % len(_VARS)]] = value
    _FILE.write_bytes(rest)
    try:
        cfg = load_config(_FILE, env=env)
    except ConfigError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    for key, f, value in settings(cfg):
        if isinstance(value, float):
            assert math.isfinite(value), key
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        assert lo is None or value >= lo, key
        assert hi is None or value <= hi, key


if __name__ == "__main__":
    fuzz(one_input, "config", ["-max_len=4096", "-timeout=10"])
