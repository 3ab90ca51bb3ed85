"""Fixtures for the end-to-end suite: the whole booth as real processes."""

from __future__ import annotations

import subprocess

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


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB filesystem for the data dir (tmpfs needs root; skip where it cannot be made)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])
