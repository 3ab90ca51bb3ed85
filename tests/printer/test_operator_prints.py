"""The operator's side of printing on the real stack (cupsd, ippeveprinter, mosquitto, the share
server's operator pages as `booth share` runs them): reprint a photo, cancel waiting prints, the
event's paper budget used up and raised; and auto-print, where every new picture prints by
itself and the pictures from before it was switched on do not."""

from __future__ import annotations

import time

import pytest

from jobstore import prints as pq
from kiosk.jobs.controller import JobController
from printer.service import PrinterService
from tests.printer.helpers import OperatorSite, wait_for
from tests.support.cups import print_ids

pytestmark = [pytest.mark.cups, pytest.mark.slow]


def test_reprint_and_cancel_waiting_from_the_dashboard(booth, rig):
    cfg, photos, watcher = booth(copies=1)
    site = OperatorSite(cfg)
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        job = photos.add()
        watcher.request(job)
        wait_for(lambda: (s := watcher.photo(job)) and s.state == "printed", 60, "printed")
        # the guest has had theirs; the operator reprints it anyway
        status, answer = site.post(f"/admin/api/jobs/{job}/reprint", {"count": 2})
        assert status == 200 and answer["result"] == "queued 2", answer
        wait_for(lambda: (s := watcher.photo(job)) and s.printed == 3, 90, "three prints")
        card = next(j for j in site.state()["jobs"] if j["id"] == job)
        assert card["prints"] == {"printed": 3, "waiting": 0, "failed": 0}
        # paper out, three photos waiting: Cancel waiting prints empties the queue
        rig.paper(0)
        wait_for(lambda: "paper_out" in watcher.problem_codes(), 20, "paper out seen")
        waiting = [photos.add() for _ in range(3)]
        for w in waiting:
            watcher.request(w)
        wait_for(lambda: site.printer()["waiting"] == 3, 30, "three waiting")
        status, answer = site.post("/admin/api/print/cancel")
        assert status == 200 and answer["result"] == "cancelled 3", answer
        wait_for(lambda: all(watcher.photo(w).state == "cancelled" for w in waiting), 30)
        rig.paper(100)
        time.sleep(5)
        assert len(rig.printed()) == 3  # the cancelled ones never came out
        assert site.post("/admin/api/print/nonsense")[0] == 404
    finally:
        service.stop()
        site.close()


def test_the_paper_budget_stops_printing_and_add_paper_goes_on(booth, rig):
    cfg, photos, watcher = booth(copies=1, budget=2)
    site = OperatorSite(cfg)
    service = PrinterService(cfg).start()
    kiosk = JobController(cfg, client_suffix="-test").start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        jobs = [photos.add() for _ in range(3)]
        for job in jobs[:2]:
            watcher.request(job)
        wait_for(lambda: len(rig.printed()) == 2, 60, "two prints")
        wait_for(lambda: watcher.state() and watcher.state().prints_left == 0, 20, "none left")
        # the guest is told, and the button does not ask
        wait_for(lambda: kiosk.prints.view(jobs[2]).line == "print_budget", 20, "told")
        assert not kiosk.prints.view(jobs[2]).can_print
        watcher.request(jobs[2])
        wait_for(lambda: (s := watcher.photo(jobs[2])) and s.refused == "budget", 20, "refused")
        card = site.printer()
        assert card["budget"] == {"total": 2, "used": 2, "left": 0}
        assert "budget_used" in [p["code"] for p in card["problems"]]
        assert "booth_prints_left" in site.metrics()
        # a new roll: the operator adds paper, and the guest's next tap prints
        status, answer = site.post("/admin/api/print/add-paper", {"count": 400})
        assert status == 200 and answer["result"] == "added 400", answer
        wait_for(lambda: site.printer()["budget"]["left"] == 400, 20, "400 left")
        wait_for(lambda: kiosk.prints.view(jobs[2]).can_print, 20, "the button back")
        assert kiosk.prints.request(jobs[2])
        wait_for(lambda: len(rig.printed()) == 3, 60, "the third print")
        assert site.post("/admin/api/print/add-paper", {"count": "lots"})[0] == 400
    finally:
        kiosk.stop()
        service.stop()
        site.close()


def test_auto_print_prints_every_new_picture_and_none_from_before(booth, rig):
    cfg, photos, watcher = booth(mode="auto", copies=1)
    before = photos.add()  # stored before auto-print was switched on
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        time.sleep(0.1)
        after = [photos.add() for _ in range(3)]
        wait_for(lambda: len(rig.printed()) == 3, 90, "three pages")
        time.sleep(3)
    finally:
        service.stop()
    service = PrinterService(cfg).start()  # a restart prints nothing again
    try:
        time.sleep(4)
    finally:
        service.stop()
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    printed = {queue.get(p).job_id for p in print_ids(rig.printed_names())}
    assert printed == set(after) and len(rig.printed()) == 3
    assert queue.for_job(before) == []
    queue.close()
