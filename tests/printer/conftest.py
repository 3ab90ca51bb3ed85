"""Fixtures for the printing suite: a private CUPS with a real IPP printer behind it
(tests/support/cups.py), the booth's config pointed at it, stored photos, the printer process,
and a client that speaks for the kiosk and the share server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.printer.helpers import Photos, Watcher, make_config, print_toml
from tests.support.cups import CupsRig, tools_available


@pytest.fixture
def rig() -> Iterator[CupsRig]:
    if not tools_available():
        pytest.fail("cupsd, ippeveprinter or avahi-daemon missing: `make test` installs them")
    r = CupsRig().start()
    yield r
    r.close()


@pytest.fixture
def booth(tmp_path, broker, rig):
    """`booth(**print_settings)` → (config, photos, watcher); closed at the end."""
    made: list[tuple[Photos, Watcher]] = []

    def _make(extra_toml: str = "", **settings):
        cfg = make_config(tmp_path, broker.url, print_toml(rig, **settings) + extra_toml)
        photos, watcher = Photos(cfg), Watcher(cfg)
        made.append((photos, watcher))
        return cfg, photos, watcher

    yield _make
    for photos, watcher in made:
        watcher.close()
        photos.close()
