"""`booth doctor`'s printer check against a real cupsd and ippeveprinter: off, fine, paper out,
a stopped queue, a queue that takes no jobs, the queue missing, CUPS not running."""

from __future__ import annotations

import pytest

from appliance.doctor import FAIL, OK, WARN, Probe, run_checks
from appliance.doctor.printing import check_printer
from tests.printer.helpers import make_config, print_toml, wait_for

pytestmark = [pytest.mark.cups]


def test_the_printer_check_says_what_is_wrong_and_how_to_fix_it(tmp_path, rig):
    probe = Probe(env={})
    off = make_config(tmp_path, "mqtt://127.0.0.1:1", "")
    assert check_printer(off, probe).level == OK
    cfg = make_config(tmp_path, "mqtt://127.0.0.1:1", print_toml(rig))
    ok = check_printer(cfg, probe)
    assert ok.level == OK and "idle" in ok.found and rig.socket in ok.found, ok
    assert "printer" in [c.name for c in run_checks(cfg, probe, offline=True)]

    rig.paper(0)
    paper = wait_for(lambda: (c := check_printer(cfg, probe)).level == WARN and c, 20)
    assert "media-empty" in paper.found and "paper_out" in paper.fix
    rig.paper(100)

    rig.run("cupsdisable", rig.queue)
    stopped = check_printer(cfg, probe)
    assert stopped.level == WARN and "stopped" in stopped.found
    assert f"cupsenable {rig.queue}" in stopped.fix
    rig.run("cupsenable", rig.queue)

    rig.run("cupsreject", rig.queue)
    rejecting = check_printer(cfg, probe)
    assert rejecting.level == FAIL and f"cupsaccept {rig.queue}" in rejecting.fix
    rig.run("cupsaccept", rig.queue)

    cfg.print.queue = "no-such-queue"
    missing = check_printer(cfg, probe)
    assert missing.level == FAIL and "no-such-queue" in missing.found
    assert "docs/printing.md" in missing.fix
    cfg.print.queue = rig.queue

    rig.stop_cupsd()
    down = check_printer(cfg, probe)
    assert down.level == FAIL and "does not answer" in down.found
    assert "systemctl start cups" in down.fix
