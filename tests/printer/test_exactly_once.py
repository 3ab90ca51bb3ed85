"""Every requested print comes out, and only once, whatever happens to the printer process:
killed in the one moment that matters (CUPS has accepted the sheet, the ledger does not know it
yet), killed with `kill -9` while sheets are printing, and the whole booth restarted (broker,
cupsd and the printer process) with prints still waiting; requests made while the printer
process is down are not lost either (its persistent MQTT session keeps them)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from jobstore import prints as pq
from printer.cups import Cups
from printer.ipp import Server
from printer.service import PrinterService
from tests.printer.helpers import PrinterProcess, wait_for
from tests.support.cups import print_ids

pytestmark = [pytest.mark.cups, pytest.mark.slow]


class KilledAfterCupsAccepts(Cups):
    """CUPS takes the sheet, then the process dies before it can write the job id down (the
    thread that sent it ends, as the process would; nothing after the call runs)."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.accepted: list[int] = []

    def print_jpeg(
        self, queue: str, data: bytes, job_name: str, media: str, scaling: str = "fill"
    ) -> int:
        job_id = super().print_jpeg(queue, data, job_name, media, scaling)
        self.accepted.append(job_id)
        raise SystemExit  # ends the queue thread here, like a kill


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_killed_between_cups_accepting_and_the_ledger_write(booth, rig):
    cfg, photos, watcher = booth()
    job = photos.add()
    killed = KilledAfterCupsAccepts(Server.parse(rig.socket))
    first = PrinterService(cfg, cups=killed).start()
    wait_for(watcher.online, 30, "the printer process online")
    watcher.request(job)
    wait_for(lambda: killed.accepted, 30, "CUPS to accept the sheet")
    assert first._thread is not None
    first._thread.join(10)
    assert not first._thread.is_alive()
    first.stop()
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    [row] = queue.for_job(job)
    assert row.state == "requested" and row.tries == 1 and row.cups_job_id is None
    # restarted: it looks the sheet up by its job name before sending anything
    second = PrinterService(cfg).start()
    try:
        wait_for(lambda: (s := watcher.photo(job)) and s.state == "printed", 60, "printed")
    finally:
        second.stop()
    [row] = queue.for_job(job)
    assert row.cups_job_id == killed.accepted[0]
    assert print_ids(rig.printed_names()) == [row.print_id]  # once
    queue.close()


def test_kill_9_mid_job_and_the_whole_booth_restarted(booth, rig, broker, tmp_path):
    cfg, photos, watcher = booth()
    rig.delay(1.5)  # each sheet takes a moment: the kills land while sheets are printing
    process = PrinterProcess(cfg, tmp_path / "booth.toml", tmp_path / "printer.log").start()
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    try:
        wait_for(watcher.online, 60, "the printer process online")
        jobs = [photos.add() for _ in range(8)]
        for job in jobs:
            watcher.request(job)
        wait_for(lambda: len(rig.printed()) >= 2, 120, "two pages out")
        assert queue.in_cups(), "a sheet is in CUPS when the process dies"
        process.kill()
        # asked while the printer process is down: its session keeps the requests
        later = [photos.add() for _ in range(3)]
        for job in later:
            watcher.request(job)
        process.start()
        wait_for(lambda: len(rig.printed()) >= 6, 180, "six pages out")
        process.kill()
        # the whole booth restarts (a power cut): CUPS finishes what it has, then the broker,
        # cupsd and the printer process start again with prints still waiting in the ledger
        wait_for(lambda: not rig.run("lpstat", "-o", rig.queue).strip(), 120, "CUPS idle")
        broker.restart()
        rig.stop_cupsd()
        rig.start_cupsd()
        process.start()
        everything = jobs + later
        wait_for(lambda: len(rig.printed()) >= len(everything), 300, "every page out")
        wait_for(
            lambda: all(r.state == "printed" for j in everything for r in queue.for_job(j)),
            60,
            "every print recorded as printed",
        )
    finally:
        process.stop()
        queue.close()
    time.sleep(2)  # anything printed twice would show now
    printed = Counter(print_ids(rig.printed_names()))
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    asked = {r.print_id: j for j in everything for r in queue.for_job(j)}
    queue.close()
    assert set(printed) == set(asked) and len(asked) == len(everything)  # every one out
    assert max(printed.values()) == 1, printed  # and each once
