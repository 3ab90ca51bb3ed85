"""A private CUPS with a real printer behind it, for the printing tests: cupsd on its own config
dir, socket, port and spool, and `ippeveprinter` (CUPS's own IPP Everywhere printer
application, package cups-ipp-utils) keeping every job's file, with a queue pointing at it.

How the pieces fit (checked on Debian 12, CUPS 2.4.2):
- ippeveprinter needs DNS-SD even with `-r off`: one system D-Bus and one avahi-daemon per
  machine serve every test worker (`ensure_dnssd`, under a lock file; they are the machine's
  daemons and stay up, as they would on any Debian machine).
- cupsd runs as root (`-f`, a child of the test) and drops to `lp` for its filters and
  backends: its directory is made under /tmp with mode 0755, since pytest's own temporary
  directories are private to root and `lp` could not reach the spool.
- the printer is the colour "legacy" ippeveprinter (`-s 10,10`): it offers 4x6 and A6 paper
  and JPEG, and its web forms set what a real printer reports: `/media` the paper left in each
  tray (0 sheets: `media-empty`, and a job waits for paper), `/supplies` the ink levels.
- each job's document is kept in the spool (`-k`); a print command (`-c`) runs per job, as a
  printer would print it, and writes one line per job to `printed.log` (its job name, paper,
  copies, file). A file `delay` in the rig's directory makes each job take that many seconds.
- the queue is `lpadmin -m everywhere`, the driverless queue CUPS makes for IPP printers.

Every port comes from the test worker's own range (appliance/services.py free_loopback_port).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from appliance.services import die_with_parent, free_loopback_port, tcp_reachable

CUPSD = shutil.which("cupsd") or "/usr/sbin/cupsd"
IPPEVEPRINTER = shutil.which("ippeveprinter") or "/usr/sbin/ippeveprinter"
LPADMIN = shutil.which("lpadmin") or "/usr/sbin/lpadmin"
DNSSD_LOCK = Path(tempfile.gettempdir()) / "booth-test-dnssd.lock"
PAPER = "na_index-4x6_4x6in"

# The default policy of Debian's /etc/cups/cupsd.conf, shortened to the operations that matter
# here: printing is open to anyone, cancelling a job needs its owner, resuming a queue needs a
# user of SystemGroup (root here, lpadmin on a booth).
_OWNER_OPS = "Hold-Job Release-Job Restart-Job Cancel-My-Jobs Set-Job-Attributes CUPS-Move-Job"
_ADMIN_OPS = (
    "Pause-Printer Resume-Printer Enable-Printer Disable-Printer CUPS-Accept-Jobs "
    "CUPS-Reject-Jobs Cancel-Jobs CUPS-Add-Modify-Printer CUPS-Delete-Printer"
)
POLICY = f"""
<Policy default>
  JobPrivateAccess default
  JobPrivateValues default
  <Limit Create-Job Print-Job Print-URI Validate-Job>
    Order deny,allow
  </Limit>
  <Limit {_OWNER_OPS}>
    Require user @OWNER @SYSTEM
    Order deny,allow
  </Limit>
  <Limit {_ADMIN_OPS}>
    AuthType Default
    Require user @SYSTEM
    Order deny,allow
  </Limit>
  <Limit Cancel-Job CUPS-Authenticate-Job>
    Require user @OWNER @SYSTEM
    Order deny,allow
  </Limit>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

PRINT_COMMAND = """#!/bin/sh
# One printed job: a line in printed.log (ippeveprinter runs this per document, as a printer
# would print it). A file `delay` beside it makes printing take that many seconds.
here="$(dirname "$0")"
if [ -f "$here/delay" ]; then sleep "$(cat "$here/delay")"; fi
echo "$IPP_JOB_ID|$IPP_JOB_NAME|$IPP_MEDIA_COL|${IPP_COPIES:-1}|$1" >> "$here/printed.log"
"""


def tools_available() -> bool:
    return all(
        Path(p).exists()
        for p in (CUPSD, IPPEVEPRINTER, LPADMIN, "/usr/sbin/avahi-daemon", "/usr/bin/dbus-daemon")
    )


def _avahi_running() -> bool:
    return subprocess.run(["avahi-daemon", "--check"], capture_output=True).returncode == 0


def _dbus_running() -> bool:
    path = "/run/dbus/system_bus_socket"
    if not os.path.exists(path):
        return False
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def ensure_dnssd() -> None:
    """The machine's system D-Bus and avahi-daemon, started once for every test worker."""
    DNSSD_LOCK.touch(exist_ok=True)
    with open(DNSSD_LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _dbus_running():
            Path("/run/dbus").mkdir(parents=True, exist_ok=True)
            Path("/run/dbus/pid").unlink(missing_ok=True)
            subprocess.run(["dbus-daemon", "--system", "--fork"], check=True, timeout=20)
        if not _avahi_running():
            subprocess.run(
                ["avahi-daemon", "--no-drop-root", "--no-rlimits", "-D"], check=True, timeout=20
            )
            end = time.monotonic() + 15
            while not _avahi_running() and time.monotonic() < end:
                time.sleep(0.1)


def _start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
            env=env,
        )


def _stop(proc: subprocess.Popen | None, kill: bool = False) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass(frozen=True)
class Printed:
    """One job the printer printed (a line of printed.log)."""

    job_id: int
    name: str
    media_col: str
    copies: int
    file: Path

    @property
    def four_by_six(self) -> bool:
        """The paper CUPS asked for is 4x6 in (10160 x 15240 hundredths of a mm)."""
        return "x-dimension=10160" in self.media_col and "y-dimension=15240" in self.media_col


class CupsRig:
    """A private cupsd and an ippeveprinter behind queue `queue`; `.socket` is cupsd's socket
    (what `print.server` points at), `.port` its TCP port."""

    def __init__(self, queue: str = "booth") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="booth-cups-"))
        self.dir.chmod(0o755)
        self.queue = queue
        self.port = free_loopback_port()
        self.printer_port = free_loopback_port()
        self.socket = str(self.dir / "cups.sock")
        self.spool = self.dir / "printer-spool"
        self.log = self.dir / "printed.log"
        self.cupsd: subprocess.Popen | None = None
        self.printer: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.socket}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> CupsRig:
        ensure_dnssd()
        for sub in ("spool/tmp", "cache", "state", "logs", "ppd"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("spool", "spool/tmp", "cache"):
            shutil.chown(self.dir / sub, "lp", "lp")
        (self.dir / "spool/tmp").chmod(0o1770)
        self.spool.mkdir(exist_ok=True)
        command = self.dir / "print-command.sh"
        command.write_text(PRINT_COMMAND)
        command.chmod(0o755)
        (self.dir / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\nListen {self.socket}\nLogLevel info\n"
            "WebInterface No\nBrowsing Off\nErrorPolicy stop-printer\nMaxJobs 2000\n"
            "<Location />\n  Order allow,deny\n  Allow localhost\n</Location>\n"
            "<Location /admin>\n  Order allow,deny\n  Allow localhost\n</Location>\n" + POLICY
        )
        d = self.dir
        (self.dir / "cups-files.conf").write_text(
            f"ServerRoot {d}\nRequestRoot {d}/spool\nTempDir {d}/spool/tmp\nCacheDir {d}/cache\n"
            f"StateDir {d}/state\nErrorLog {d}/logs/error_log\nAccessLog {d}/logs/access_log\n"
            f"PageLog {d}/logs/page_log\nUser lp\nGroup lp\nSystemGroup root\nPeerCred on\n"
        )
        self.start_printer()
        self.start_cupsd()
        subprocess.run(
            [
                LPADMIN,
                "-p",
                self.queue,
                "-E",
                "-v",
                f"ipp://localhost:{self.printer_port}/ipp/print",
                "-m",
                "everywhere",
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self

    def start_cupsd(self) -> None:
        Path(self.socket).unlink(missing_ok=True)
        self.cupsd = _start(
            [
                CUPSD,
                "-f",
                "-c",
                str(self.dir / "cupsd.conf"),
                "-s",
                str(self.dir / "cups-files.conf"),
            ],
            self.dir / "logs" / "cupsd.out",
        )
        self._wait(lambda: os.path.exists(self.socket) and tcp_reachable("127.0.0.1", self.port))

    def stop_cupsd(self) -> None:
        _stop(self.cupsd)
        self.cupsd = None

    def start_printer(self) -> None:
        self.printer = _start(
            [
                IPPEVEPRINTER,
                "-r",
                "off",
                "-n",
                "localhost",
                "-p",
                str(self.printer_port),
                "-d",
                str(self.spool),
                "-k",
                "-c",
                str(self.dir / "print-command.sh"),
                "-s",
                "10,10",
                f"booth-test-{self.printer_port}",
            ],
            self.dir / "logs" / "ippeveprinter.out",
        )
        self._wait(lambda: tcp_reachable("127.0.0.1", self.printer_port))

    def stop_printer(self) -> None:
        _stop(self.printer)
        self.printer = None

    def close(self) -> None:
        self.stop_cupsd()
        self.stop_printer()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _wait(self, ready: object, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if callable(ready) and ready():
                return
            time.sleep(0.05)
        logs = "\n".join(
            p.read_text(errors="replace")[-2000:]
            for p in (self.dir / "logs").glob("*")
            if p.is_file()
        )
        raise RuntimeError(f"the CUPS rig did not come up:\n{logs}")

    # ------------------------------------------------------------------ what a person does
    def run(self, *argv: str) -> str:
        """A CUPS command (lpstat, cupsdisable …) against this cupsd."""
        out = subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout

    def paper(self, sheets: int) -> None:
        """The printer's trays hold `sheets` each (0: out of paper), through its web form."""
        self._form(f"/media?size1=na_letter_8.5x11in&level1={sheets}&size2={PAPER}&level2={sheets}")

    def ink(self, level: int) -> None:
        """Every ink cartridge at `level` per cent (0: empty), through its web form."""
        query = "&".join(f"supply{i}={25 if i == 0 else level}" for i in range(5))
        self._form(f"/supplies?{query}")

    def _form(self, path: str) -> None:
        with urllib.request.urlopen(f"http://localhost:{self.printer_port}{path}", timeout=10) as r:
            r.read()

    def delay(self, seconds: float) -> None:
        """Each job from now on takes `seconds` to print (0: at once)."""
        path = self.dir / "delay"
        if seconds:
            path.write_text(str(seconds))
        else:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ what came out
    def printed(self) -> list[Printed]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            parts = line.split("|")
            if len(parts) == 5 and parts[0].isdigit():
                out.append(
                    Printed(int(parts[0]), parts[1], parts[2], int(parts[3] or 1), Path(parts[4]))
                )
        return out

    def printed_names(self) -> list[str]:
        return [p.name for p in self.printed()]


def print_ids(names: list[str]) -> list[str]:
    """The print ids in CUPS job names of the booth (booth-print-<id>)."""
    return [m.group(1) for n in names if (m := re.match(r"^booth-print-([0-9a-f]+)$", n))]
