"""Fuzz the strip session's record (jobstore/sessionrecord.py), which a ledger rebuild reads
from the photo store: any bytes raise only ValueError, and a record that reads writes back as
the same record."""

from __future__ import annotations

from fuzz.harness import fuzz
from jobstore.sessionrecord import SessionRecord


def one_input(data: bytes) -> None:
    try:
        rec = SessionRecord.from_json(data)
    except ValueError:
        return
    assert SessionRecord.from_json(rec.to_json()) == rec


if __name__ == "__main__":
    fuzz(one_input, "records", ["-max_len=4096", "-timeout=10"])
