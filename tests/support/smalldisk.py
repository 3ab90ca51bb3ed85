"""A filesystem of a few megabytes for tests of a full disk: a tmpfs of its own (mounting needs
root; the test is skipped where it cannot be made), and a filler that takes its room."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jobstore.schema import disk_refused


@contextmanager
def small_tmpfs(path: Path, size: str = "4m") -> Iterator[Path]:
    """`path` as a tmpfs of `size`, unmounted afterwards (lazily: a process of the test may
    still hold a file there)."""
    path.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(filler: Path, leave: int = 0) -> int:
    """Write `filler` until its filesystem has about `leave` bytes free (0: none at all, to the
    last page); returns the bytes written. Growing the file again fills what was left."""
    written = 0
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            while shutil.disk_usage(filler.parent).free - chunk >= leave or not leave:
                try:
                    written += os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return written


def ledger_refuses_writes(path: Path) -> bool:
    """A write of a connection of its own fails as the disk's fault (the probe is rolled back)."""
    db = sqlite3.connect(str(path), timeout=10, isolation_level=None)
    try:
        db.execute("CREATE TABLE full_disk_probe (x BLOB)")
        db.execute("DROP TABLE full_disk_probe")
        return False
    except sqlite3.OperationalError as exc:
        return disk_refused(exc)
    finally:
        db.close()
