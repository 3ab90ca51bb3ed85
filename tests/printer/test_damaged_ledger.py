"""The printer process may be the first to open the ledger after a power cut damaged it: it
checks it like the kiosk and the share server do (jobstore/recovery.py), so it never writes its
prints into a damaged file, and the photos rebuilt from the store print as before."""

from __future__ import annotations

import pytest

from jobstore.ledger import ledger_path
from jobstore.recovery import recoveries
from printer.service import PrinterService
from tests.printer.helpers import wait_for

pytestmark = [pytest.mark.cups, pytest.mark.slow]


def test_the_printer_rebuilds_a_damaged_ledger_and_prints_its_photos(booth, rig):
    cfg, photos, watcher = booth()
    job = photos.add()
    photos.close()
    path = ledger_path(cfg.data_dir)
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    path.write_bytes(b"not a database, a power cut's leftovers" * 100)
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        [rec] = recoveries(cfg.data_dir)
        assert rec.jobs == 1 and rec.links_kept == 1, rec  # the link on phones still works
        assert rec.moved_to  # kept aside for the operator
        watcher.request(job)
        wait_for(
            lambda: (s := watcher.photo(job)) and s.state == "printed", 60, "printed after rebuild"
        )
    finally:
        service.stop()
    assert len(rig.printed()) == 1
