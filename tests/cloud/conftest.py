"""Fixtures of the cloud tests: a real S3-protocol server (moto over HTTP) with the booth's
bucket, configs pointing at it, the kiosk's worker stand-in on the real broker."""

from __future__ import annotations

import pytest

from tests.kiosk.helpers import FakeWorker, kiosk_toml
from tests.support.s3 import CREDS, S3Server, cloud_toml


@pytest.fixture
def s3():
    server = S3Server().start()
    server.create_bucket()
    yield server
    server.stop()


@pytest.fixture
def cloud_config(make_config, s3):
    """cloud_config(extra_toml="", public_base_url="", **env) → Config with [cloud] on."""

    def _make(extra: str = "", public_base_url: str = "", **env: str):
        toml = kiosk_toml() + "\n" + cloud_toml(s3, public_base_url=public_base_url) + extra
        return make_config(toml, **{**CREDS, **env})

    return _make


@pytest.fixture
def worker(broker):
    w = FakeWorker(broker.port)
    yield w
    w.close()
