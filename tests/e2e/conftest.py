"""Fixtures for the end-to-end suite: the whole booth as real processes."""

from __future__ import annotations

import pytest

from tests.e2e.rig import Rig
from tests.support.fake_gemini import FakeGemini


@pytest.fixture
def gemini():
    fake = FakeGemini()
    yield fake
    fake.close()


@pytest.fixture
def rig(tmp_path, broker):
    r = Rig(tmp_path, broker)
    yield r
    r.close()


@pytest.fixture
def ai_rig(tmp_path, broker, gemini):
    r = Rig(tmp_path, broker, gemini_url=gemini.url)
    yield r
    r.close()
