"""A real mosquitto on a free loopback port, with persistence in a temp dir and restart."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from appliance.services import free_loopback_port, mosquitto_exe, start_listening, tcp_reachable

# One implementation of these for the product and the tests (booth up starts brokers too).
free_port = free_loopback_port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    return tcp_reachable(host, port, 0.2)


MOSQUITTO = mosquitto_exe() or "/usr/sbin/mosquitto"

# Set by tests/conftest.py before each test: whether it carries the `broker` mark, which keeps it
# out of `make test-quick`. None outside pytest (the benchmarks start brokers too).
test_may_start_broker: bool | None = None


class Mosquitto:
    """`mosquitto -c CONF` as a child process. `extra_conf` lines are appended to the config."""

    def __init__(
        self, workdir: Path, port: int | None = None, extra_conf: str = "", anonymous: bool = True
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self.extra_conf = extra_conf
        self.anonymous = anonymous
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_conf(self) -> None:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {data}/",
            "autosave_interval 1",
            "max_queued_messages 5000",
            "max_packet_size 40000000",
            "user root" if os.geteuid() == 0 else "",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"log_dest file {self.log}",
            self.extra_conf,
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> Mosquitto:
        if self.proc and self.proc.poll() is None:
            return self
        if test_may_start_broker is False:
            raise RuntimeError(
                "this test starts a mosquitto but has no `broker` mark: use the `broker` fixture "
                "(marked by tests/conftest.py), or mark the test @pytest.mark.broker"
            )
        self.write_conf()
        self.proc = start_listening(
            [MOSQUITTO, "-c", str(self.conf)], self.port, timeout, "mosquitto", log_file=self.log
        )
        return self

    def stop(self, kill: bool = False) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence db
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        end = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < end:
            time.sleep(0.05)

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()
