"""How printing fails at events, against the real stack (a private cupsd, ippeveprinter behind a
driverless queue, mosquitto): paper out, a stopped queue, CUPS gone, the queue missing, a child
tapping Print twenty times. What the guest sees is read from the kiosk's own job side
(kiosk/jobs/printwatch.py), what the operator sees from the share server's operator pages as
`booth share` runs them (/admin/api/state, /metrics)."""

from __future__ import annotations

import pytest

from jobstore import prints as pq
from kiosk.jobs.controller import JobController
from printer.service import PrinterService
from tests.printer.helpers import OperatorSite, wait_for
from tests.support.cups import print_ids

pytestmark = [pytest.mark.cups, pytest.mark.slow]


@pytest.fixture
def parts(booth):
    """`parts(**print_settings)` → (cfg, photos, watcher, printer service, kiosk, operator)."""
    started: list = []

    def _make(**settings):
        cfg, photos, watcher = booth(**settings)
        service = PrinterService(cfg).start()
        kiosk = JobController(cfg, client_suffix="-test").start()
        site = OperatorSite(cfg)
        started.extend([service, kiosk, site])
        wait_for(watcher.online, 30, "the printer process online")
        wait_for(lambda: kiosk.mqtt.connected, 30, "the kiosk connected")
        return cfg, photos, watcher, service, kiosk, site

    yield _make
    for part in reversed(started):
        part.stop() if not isinstance(part, OperatorSite) else part.close()


def line(kiosk: JobController, job: str) -> str | None:
    return kiosk.prints.view(job).line


def test_paper_out_is_shown_within_seconds_and_nothing_is_lost(parts, rig):
    cfg, photos, watcher, service, kiosk, site = parts(copies=1)
    jobs = [photos.add() for _ in range(3)]
    rig.paper(0)
    for job in jobs:
        wait_for(lambda j=job: kiosk.prints.view(j).can_print, 20, "the Print button")
        assert kiosk.prints.request(job)  # the guest's tap, as the result screen makes it
    # The guests' screen: printing is paused, the photo is saved (the QR stays on screen)
    for job in jobs:
        wait_for(lambda j=job: line(kiosk, j) == "print_paused", 15, "paused on the screen")
        assert not kiosk.prints.view(job).can_print  # a print of it waits: no second one
    # The dashboard: the printer card is red and says paper, with what to do; so does /metrics
    card = wait_for(
        lambda: (c := site.printer()) and "paper_out" in [p["code"] for p in c["problems"]] and c,
        15,
        "paper out on the dashboard",
    )
    assert card["level"] == "error" and "paper" in card["reason"]
    assert "load paper" in card["fix"]
    assert 'booth_printer_problem{booth="testbooth",code="paper_out"} 1' in site.metrics()
    # the kiosk's operator mark raises for it too (kiosk/healthwatch.py)
    from kiosk.healthwatch import printer_problems

    assert "print_paper_out" in [p.code for p in printer_problems(kiosk.board.service("printer"))]
    # Nothing lost, nothing out
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    assert [r.state for j in jobs for r in queue.for_job(j)].count("printed") == 0
    assert len(queue.queue()) == 3 and rig.printed() == []
    # Paper loaded: the waiting prints come out, once each, in order
    rig.paper(100)
    wait_for(lambda: len(rig.printed()) >= 3, 90, "three pages after paper was loaded")
    wait_for(lambda: all(line(kiosk, j) == "print_printed" for j in jobs), 30, "printed")
    wait_for(lambda: site.printer()["level"] == "ok", 30, "the printer card green again")
    by_print = {r.print_id: j for j in jobs for r in queue.for_job(j)}
    assert [by_print[p] for p in print_ids(rig.printed_names())] == jobs
    queue.close()


def test_a_stopped_queue_is_shown_and_resumed_from_admin_and_by_the_booth(booth, rig, broker):
    cfg, photos, watcher = booth(auto_resume=False)
    site = OperatorSite(cfg)
    service = PrinterService(cfg).start()
    kiosk = JobController(cfg, client_suffix="-test").start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        rig.run("cupsdisable", rig.queue)  # as CUPS does after a backend error
        first = photos.add()
        wait_for(lambda: kiosk.prints.view(first).can_print, 20, "the Print button")
        kiosk.prints.request(first)
        wait_for(lambda: "queue_stopped" in watcher.problem_codes(), 15, "detected")
        wait_for(lambda: line(kiosk, first) == "print_paused", 15, "shown to the guest")
        card = site.printer()
        assert "queue_stopped" in [p["code"] for p in card["problems"]]
        assert card["printer"]["state"] == "stopped"
        assert rig.printed() == []
        # The operator's Resume printing (cupsenable, through the printer process)
        status, answer = site.post("/admin/api/print/resume")
        assert status == 200 and answer["result"] == "resumed", answer
        wait_for(lambda: len(rig.printed()) == 1, 60, "the waiting print out")
        wait_for(lambda: "queue_stopped" not in watcher.problem_codes(), 15, "clear again")
        # done in CUPS too (a queue stopped while CUPS still follows a job sends it again)
        wait_for(lambda: (s := watcher.photo(first)) and s.state == "printed", 30, "printed")
    finally:
        service.stop()
    # The booth resumes a stopped queue itself once the printer reports ready, and not while
    # the printer says it has no paper
    cfg.print.auto_resume, cfg.print.ready_for_s = True, 2.0
    service = PrinterService(cfg).start()
    try:
        rig.paper(0)
        rig.run("cupsdisable", rig.queue)
        second = photos.add()
        watcher.request(second)
        wait_for(lambda: "paper_out" in watcher.problem_codes(), 15, "paper out seen")
        wait_for(lambda: "queue_stopped" in watcher.problem_codes(), 15, "the stop seen")
        # ready_for_s and more pass: the printer still says it has no paper, so it stays stopped
        import time

        time.sleep(6)
        assert "disabled" in rig.run("lpstat", "-p", rig.queue)
        assert len(rig.printed()) == 1
        rig.paper(100)  # paper loaded: the printer reports ready
        wait_for(lambda: "disabled" not in rig.run("lpstat", "-p", rig.queue), 30, "resumed")
        wait_for(lambda: len(rig.printed()) == 2, 60, "the second print out")
        wait_for(lambda: (s := watcher.photo(second)) and s.state == "printed", 30, "printed")
        wait_for(
            lambda: (h := watcher.health()) and h.extra["auto_resume"]["count"] >= 1, 10, "said"
        )
    finally:
        service.stop()
        kiosk.stop()
        site.close()
    assert len(set(print_ids(rig.printed_names()))) == 2  # each once


def test_cups_not_running_or_the_queue_missing_is_said_and_the_booth_runs_on(parts, rig):
    cfg, photos, watcher, service, kiosk, site = parts()
    job = photos.add()
    rig.stop_cupsd()
    wait_for(lambda: watcher.state() and watcher.state().state == "unavailable", 20, "seen")
    assert watcher.state().problem == "cups_down"
    card = wait_for(
        lambda: (c := site.printer()) and "cups_down" in [p["code"] for p in c["problems"]] and c,
        15,
        "CUPS down on the dashboard",
    )
    assert rig.socket in card["reason"] and "systemctl start cups" in card["fix"]
    # the guest's tap is still taken (it waits in the ledger) and the screen says why
    wait_for(lambda: kiosk.prints.view(job).can_print, 10, "the Print button")
    assert kiosk.prints.request(job)
    wait_for(lambda: line(kiosk, job) == "print_unavailable", 15, "said to the guest")
    assert service._thread is not None and service._thread.is_alive()  # it runs on
    rig.start_cupsd()
    wait_for(lambda: len(rig.printed()) == 1, 60, "printed once CUPS is back")
    # The queue deleted: said, and printing resumes once it is back
    rig.run("lpadmin", "-x", rig.queue)
    wait_for(lambda: watcher.state() and watcher.state().problem == "queue_missing", 20, "seen")
    assert "lpstat -p" in site.printer()["fix"]
    second = photos.add()
    watcher.request(second)
    wait_for(lambda: line(kiosk, second) == "print_unavailable", 15, "said to the guest")
    rig.run(
        "lpadmin",
        "-p",
        rig.queue,
        "-E",
        "-v",
        f"ipp://localhost:{rig.printer_port}/ipp/print",
        "-m",
        "everywhere",
    )
    wait_for(lambda: len(rig.printed()) == 2, 60, "printed once the queue is back")
    assert len(set(print_ids(rig.printed_names()))) == 2


def test_twenty_taps_on_print_make_at_most_the_allowed_copies(parts, rig):
    cfg, photos, watcher, service, kiosk, site = parts(copies=2)
    job = photos.add()
    wait_for(lambda: kiosk.prints.view(job).can_print, 20, "the Print button")
    # A child's twenty taps through the screen: the first asks, the rest are not taps
    taken = sum(kiosk.prints.request(job) for _ in range(20))
    assert taken == 1
    # and twenty requests that reach the printer process anyway (another kiosk, replays):
    # it is the one that decides
    for _ in range(20):
        watcher.request(job)
    wait_for(lambda: len(rig.printed()) >= 1, 60, "the first print")
    wait_for(lambda: (s := watcher.photo(job)) and s.state == "printed", 30, "printed")
    for _ in range(20):
        watcher.request(job)
    wait_for(lambda: (s := watcher.photo(job)) and s.printed == 2, 60, "the second print")
    for _ in range(20):
        watcher.request(job)
    status = wait_for(lambda: (s := watcher.photo(job)) and s.refused == "limit" and s, 30)
    assert status.printed == 2 and status.waiting == 0
    wait_for(lambda: line(kiosk, job) in ("print_limit", "print_printed"), 10)
    assert not kiosk.prints.view(job).can_print
    import time

    time.sleep(3)  # nothing more comes out
    assert len(rig.printed()) == 2
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    assert [r.state for r in queue.for_job(job)] == ["printed", "printed"]
    queue.close()
