"""The printer check: with `[print]` on, CUPS answers, the queue exists, takes jobs and is not
stopped, the printer reports no paper, ribbon or jam trouble, and the booth user may resume the
queue (docs/printing.md). It asks CUPS the way the printer process does (printer/cups.py)."""

from __future__ import annotations

import grp
import pwd

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config

BOOTH_USER = "booth"  # the user the units run as (deploy/install.sh)


def check_printer(cfg: Config, probe: Probe) -> Check:
    if not cfg.print.enabled:
        return Check("printer", OK, "printing is off ([print] enabled = false)")
    from printer.cups import Cups, CupsDown, CupsError, QueueMissing, device_state
    from printer.ipp import Server, default_server
    from printer.watch import BLOCKING, REASON_CODES, base_reason, network_device

    pc = cfg.print
    server = Server.parse(pc.server) if pc.server else default_server(probe.env)
    cups = Cups(server, timeout_s=probe.broker_timeout_s)
    try:
        q = cups.queue(pc.queue)
    except CupsDown as exc:
        return Check(
            "printer",
            FAIL,
            f"CUPS does not answer at {server}: {exc}",
            "sudo systemctl start cups (deploy/install.sh --printer installs it); "
            "or set print.server",
        )
    except QueueMissing:
        return Check(
            "printer",
            FAIL,
            f"CUPS at {server} has no queue {pc.queue!r}",
            "add the printer's queue (docs/printing.md, Install) or set print.queue to one "
            "that lpstat -p lists",
        )
    except CupsError as exc:
        return Check("printer", FAIL, f"CUPS at {server} refused: {exc}", "see journalctl -u cups")
    reasons = {base_reason(r) for r in q.reasons} - {"paused"}
    if network_device(q.device_uri):
        device = device_state(q.device_uri, timeout_s=probe.broker_timeout_s)
        reasons |= {base_reason(r) for r in (device.reasons if device else ())}
    supplies = ", ".join(f"{m.name} {m.level}%" for m in q.markers if m.level >= 0)
    found = f"queue {pc.queue} on {server}: {q.state_name}" + (
        f", {', '.join(sorted(reasons))}" if reasons else ""
    )
    found += f"; {supplies}" if supplies else ""
    if not q.accepting:
        return Check(
            "printer",
            FAIL,
            f"{found}; it does not accept jobs",
            f"Resume printing on the dashboard, or: cupsaccept {pc.queue}",
        )
    blocking = sorted(reasons & BLOCKING)
    if blocking:
        words = ", ".join(REASON_CODES.get(r, r) for r in blocking)
        return Check("printer", WARN, found, f"the printer says {words}: see to it")
    if q.stopped:
        return Check(
            "printer",
            WARN,
            f"{found} ({q.message or 'stopped'})",
            f"the booth resumes it once the printer is ready; or: cupsenable {pc.queue}",
        )
    if not _may_resume(BOOTH_USER):
        return Check(
            "printer",
            WARN,
            f"{found}; the user {BOOTH_USER} is not in the lpadmin group",
            f"sudo usermod -aG lpadmin {BOOTH_USER} (else a stopped queue waits for a person)",
        )
    return Check("printer", OK, found)


def _may_resume(user: str) -> bool:
    """Whether `user` is in lpadmin, cupsd's SystemGroup on Debian (True when there is no such
    user here: a machine without the units)."""
    try:
        entry = pwd.getpwnam(user)
        group = grp.getgrnam("lpadmin")
    except KeyError:
        return True
    return user in group.gr_mem or entry.pw_gid == group.gr_gid
