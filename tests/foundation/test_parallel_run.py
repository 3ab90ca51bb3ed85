"""The parallel `make test` keeps each xdist_group on one worker (tests/conftest.py says which
tests share a group and why). pytest-xdist's loadgroup has failed silently before: with pytest
9.2's structured node ids its group suffix is lost and grouped tests spread over every worker
(pytest-dev/pytest-xdist#1386; pyproject.toml keeps pytest below 9.2 for it)."""

from __future__ import annotations

import subprocess
import sys

TESTS = """
import os
import pathlib

import pytest

OUT = pathlib.Path(__file__).parent / "ran"


def ran(name):
    with open(OUT, "a") as f:
        f.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.mark.xdist_group("together")
@pytest.mark.parametrize("i", range(4))
def test_grouped_MODULE(i):
    ran(f"grouped-MODULE-{i}")


@pytest.mark.parametrize("i", range(8))
def test_free_MODULE(i):
    ran(f"free-MODULE-{i}")
"""


def test_a_group_runs_on_one_worker(tmp_path):
    for m in ("a", "b"):
        (tmp_path / f"test_{m}.py").write_text(TESTS.replace("MODULE", m))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    ran = dict(line.split() for line in (tmp_path / "ran").read_text().splitlines())
    assert len(ran) == 24
    grouped = {worker for name, worker in ran.items() if name.startswith("grouped")}
    assert len(grouped) == 1, f"the group ran on {sorted(grouped)}"
