"""Helpers for the deploy tests: run install.sh in a throwaway root, start the mosquitto config it
generated for real, and MQTT clients that report the broker's reason codes."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"


def run_install(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and out.returncode != 0:
        raise AssertionError(f"install.sh failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, owner and content hash."""
    snap = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = ""
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        snap[str(path.relative_to(root))] = (
            stat.filemode(st.st_mode),
            st.st_uid,
            st.st_gid,
            st.st_size,
            digest,
        )
    return snap


def env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def credentials(root: Path, role: str) -> tuple[str, str]:
    """(user, password) from the role's env file written by install.sh; `workers/NAME` for a
    worker machine's (install.sh --lan --worker NAME)."""
    from booth.mqtt import BrokerUrl

    url = BrokerUrl.parse(env_file(root / "etc" / "booth" / f"{role}.env")["BOOTH_MQTT_URL"])
    assert url.username and url.password
    return url.username, url.password


class GeneratedBroker(Mosquitto):
    """mosquitto -c with the drop-in install.sh generated; only its absolute /etc/mosquitto paths
    are pointed into the throwaway root, plus a temp persistence dir and a log file."""

    def __init__(
        self,
        root: Path,
        workdir: Path,
        port: int,
        extra_conf: str = "",
        debian_main: Path | None = None,
    ) -> None:
        super().__init__(workdir, port=port, extra_conf=extra_conf)
        self.root = root
        self.debian_main = debian_main

    def _write_debian_layout(self, generated: str, data: Path) -> None:
        """The package's own mosquitto.conf including our drop-in from conf.d, as on the Pi."""
        confd = self.workdir / "conf.d"
        confd.mkdir(exist_ok=True)
        (confd / "booth.conf").write_text(generated)
        assert self.debian_main is not None  # write_conf's Debian branch
        main = self.debian_main.read_text()
        main = (
            main.replace("/run/mosquitto/mosquitto.pid", str(self.workdir / "mosquitto.pid"))
            .replace("/var/lib/mosquitto/", f"{data}/")
            .replace("/var/log/mosquitto/mosquitto.log", str(self.log))
            .replace("/etc/mosquitto/conf.d", str(confd))
        )
        extra = "\nuser root\n" if os.geteuid() == 0 else "\n"
        self.conf.write_text(main + extra)

    def write_conf(self) -> None:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        generated = (self.root / "etc/mosquitto/conf.d/booth.conf").read_text()
        generated = generated.replace("/etc/mosquitto/", f"{self.root}/etc/mosquitto/")
        if self.debian_main is not None:
            self._write_debian_layout(generated, data)
            return
        lines = [
            generated,
            f"persistence_location {data}/",
            "user root" if os.geteuid() == 0 else "",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"log_dest file {self.log}",
            self.extra_conf,
        ]
        self.conf.write_text("\n".join(lines) + "\n")


@dataclass
class Connack:
    ok: bool
    reason: str


class Client:
    """A paho MQTT 5 client that records messages and the broker's answers."""

    def __init__(
        self,
        port: int,
        user: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        host: str = "127.0.0.1",
        ca_file: str | None = None,
    ) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._connack = threading.Event()
        self._acks: dict[int, object] = {}
        self._subacks: dict[int, list] = {}
        self.connack: Connack | None = None
        self.subscriptions: list[tuple[str, int]] = []
        self.c = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        if user is not None:
            self.c.username_pw_set(user, password)
        if ca_file is not None:  # TLS, checking the broker against this CA
            self.c.tls_set(ca_certs=ca_file)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_publish = lambda cl, ud, mid, reason, props: self._acks.__setitem__(mid, reason)
        self.c.on_subscribe = lambda cl, ud, mid, reasons, props: self._subacks.__setitem__(
            mid, list(reasons)
        )
        self.c.reconnect_delay_set(0.2, 2)  # type: ignore[arg-type]  # paho says int; a float works
        props = Properties(PacketTypes.CONNECT)
        if session_expiry_s:
            props.SessionExpiryInterval = session_expiry_s
        self.c.connect_async(host, port, keepalive=30, clean_start=clean_start, properties=props)
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, reason, props):
        self.connack = Connack(not reason.is_failure, str(reason))
        if not reason.is_failure:
            for topic, qos in self.subscriptions:
                client.subscribe(topic, qos)
        self._connack.set()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append(msg)

    def wait_connack(self, timeout: float = 15) -> Connack:
        assert self._connack.wait(timeout), "no CONNACK"
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str, timeout: float = 15) -> list:
        """Subscribe (and again on every reconnect); returns the SUBACK reason codes."""
        self.subscriptions.append((topic, 1))
        _rc, mid = self.c.subscribe(topic, 1)
        assert mid is not None, f"SUBSCRIBE of {topic} not sent"
        assert wait_until(lambda: mid in self._subacks, timeout), f"no SUBACK for {topic}"
        return self._subacks[mid]

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        retain: bool = False,
        props: Properties | None = None,
        timeout: float = 15,
    ) -> str:
        """Publish QoS 1; 'ok' when the broker accepted it (Success or No matching subscribers),
        else the PUBACK's failure reason ('Not authorized', …)."""
        info = self.c.publish(topic, payload, qos=1, retain=retain, properties=props)
        assert wait_until(lambda: info.mid in self._acks, timeout), f"no PUBACK for {topic}"
        reason = self._acks[info.mid]
        return str(reason) if getattr(reason, "is_failure", False) else "ok"

    def on(self, topic: str) -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if paho.topic_matches_sub(topic, m.topic)]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def job_properties(job_id: str, style: str = "drip") -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "image/jpeg"
    props.UserProperty = [
        ("job_id", job_id),
        ("style", style),
        ("created_at", "2026-11-24T09:00:00.000Z"),
    ]
    return props


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (what systemctl stop sends), then SIGKILL if it outstays `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
