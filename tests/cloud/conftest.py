"""Fixtures of the cloud tests: a real S3-protocol server with the booth's bucket — every test
that uses `s3` runs once against moto and once against s3rver (tests/support/s3.py says what
each checks), unless marked `@pytest.mark.s3("moto")` — configs pointing at it, the kiosk's
worker stand-in on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from booth.config import Config
from tests.kiosk.helpers import FakeWorker, kiosk_toml
from tests.support.mosquitto import Mosquitto
from tests.support.s3 import S3_KINDS, S3Base, cloud_toml, s3_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "s3(*kinds): run only against these S3 servers (moto, s3rver; default both)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "s3" in metafunc.fixturenames:
        mark = metafunc.definition.get_closest_marker("s3")
        metafunc.parametrize("s3_kind", mark.args if mark else S3_KINDS)


@pytest.fixture
def s3(s3_kind: str) -> Iterator[S3Base]:
    server = s3_server(s3_kind).start()
    try:
        server.create_bucket()
        yield server
    finally:
        server.close()


@pytest.fixture
def cloud_config(make_config: Callable[..., Config], s3: S3Base) -> Callable[..., Config]:
    """cloud_config(extra_toml="", public_base_url="", **env) → Config with [cloud] on."""

    def _make(extra: str = "", public_base_url: str = "", **env: str) -> Config:
        toml = kiosk_toml() + "\n" + cloud_toml(s3, public_base_url=public_base_url) + extra
        return make_config(toml, **{**s3.creds, **env})

    return _make


@pytest.fixture
def worker(broker: Mosquitto) -> Iterator[Any]:
    w = FakeWorker(broker.port)
    yield w
    w.close()
