"""The mosquitto config install.sh generates, started for real: anonymous and wrong passwords are
refused, the kiosk user stays inside its own booth, the worker user cannot publish jobs, and both
can do their own work; the LAN listener speaks TLS only, to one login per worker machine, which
can neither subscribe to `#` nor publish a job."""

from __future__ import annotations

import json
import socket

import pytest

from jobstore.links import interface_addresses
from tests.deploy.deploytools import (
    Client,
    GeneratedBroker,
    credentials,
    env_file,
    job_properties,
    run_install,
    wait_until,
)
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.broker  # each test starts the generated mosquitto config

NOT_AUTHORIZED = "Not authorized"


# An address of this machine that is not loopback: clients from it are "on the LAN".
LAN_IP = next(iter(interface_addresses()), None)


@pytest.fixture
def booth_broker(tmp_path):
    root = tmp_path / "root"
    port, lan_port = free_port(), free_port()
    run_install(
        root,
        "--booth-id",
        "b1",
        "--mqtt-port",
        str(port),
        "--lan",
        "--lan-port",
        str(lan_port),
        "--lan-address",
        LAN_IP or "127.0.0.1",
        "--worker",
        "pc1",
        "--worker",
        "pc2",
    )
    broker = GeneratedBroker(root, tmp_path / "mq", port)
    broker.start()
    broker.lan_port = lan_port
    broker.ca = str(root / "etc/booth/workers/ca.crt")
    clients: list[Client] = []

    def client(role: str | None = None, port: int | None = None, **kw) -> Client:
        user, pw = credentials(root, role) if role else (None, None)
        if role and role.startswith("workers/"):  # a worker machine: TLS to the LAN listener
            kw.setdefault("ca_file", broker.ca)
            port = port or lan_port
        c = Client(port or broker.port, user, pw, **kw)
        clients.append(c)
        return c

    broker.client = client
    yield broker
    for c in clients:
        c.close()
    broker.stop(kill=True)


def test_anonymous_and_wrong_password_are_refused(booth_broker):
    anon = booth_broker.client()
    assert not anon.wait_connack().ok
    assert NOT_AUTHORIZED in anon.wait_connack().reason
    user, _pw = credentials(booth_broker.root, "kiosk")
    wrong = Client(booth_broker.port, user, "not-the-password")
    try:
        ack = wrong.wait_connack()
        assert not ack.ok and (
            "Bad user name or password" in ack.reason or NOT_AUTHORIZED in ack.reason
        )
    finally:
        wrong.close()
    anon_lan = booth_broker.client(port=booth_broker.lan_port, ca_file=booth_broker.ca)
    assert not anon_lan.wait_connack().ok


def test_kiosk_and_worker_do_their_own_work(booth_broker):
    kiosk = booth_broker.client("kiosk")
    worker = booth_broker.client("worker")
    assert kiosk.wait_connack().ok and worker.wait_connack().ok
    assert worker.subscribe("$share/workers/booth/+/jobs")[0].value < 0x80
    assert kiosk.subscribe("booth/b1/status/+")[0].value < 0x80
    assert kiosk.subscribe("booth/b1/results/+")[0].value < 0x80
    assert kiosk.subscribe("booth/workers/+/availability")[0].value < 0x80
    assert kiosk.subscribe("booth/workers/+/health")[0].value < 0x80

    assert kiosk.publish("booth/b1/availability", "online", retain=True) == "ok"
    assert kiosk.publish("booth/b1/status/job00001", '{"status": "pending"}', retain=True) == "ok"
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8jpeg", props=job_properties("job00001")) == "ok"
    assert wait_until(lambda: worker.on("booth/b1/jobs"), 15)
    job = worker.on("booth/b1/jobs")[0]
    assert dict(job.properties.UserProperty)["job_id"] == "job00001"

    assert worker.publish("booth/workers/w1/availability", "online", retain=True) == "ok"
    assert worker.publish("booth/workers/w1/health", '{"state": "ok"}', retain=True) == "ok"
    assert (
        worker.publish("booth/b1/status/job00001", '{"status": "processing"}', retain=True) == "ok"
    )
    assert worker.publish("booth/b1/results/job00001", b"\x89PNG", retain=True) == "ok"
    assert wait_until(
        lambda: (
            kiosk.on("booth/b1/results/+")
            and len(kiosk.on("booth/b1/status/+")) >= 2
            and kiosk.on("booth/workers/+/availability")
            and kiosk.on("booth/workers/+/health")
        ),
        15,
    )
    # The kiosk clears the retained result once stored.
    assert kiosk.publish("booth/b1/results/job00001", b"", retain=True) == "ok"


def test_kiosk_cannot_touch_another_booth(booth_broker):
    kiosk = booth_broker.client("kiosk")
    worker = booth_broker.client("worker")
    assert kiosk.wait_connack().ok and worker.wait_connack().ok
    worker.subscribe("$share/workers/booth/+/jobs")
    kiosk.subscribe("booth/b2/results/+")  # refused or silently empty: either way nothing comes
    kiosk.subscribe("booth/+/status/+")

    # Publishing on another booth's topics is refused by the broker.
    assert (
        kiosk.publish("booth/b2/jobs", b"\xff\xd8", props=job_properties("job00002"))
        == NOT_AUTHORIZED
    )
    assert kiosk.publish("booth/b2/status/job00002", "{}", retain=True) == NOT_AUTHORIZED
    assert kiosk.publish("booth/b2/results/job00002", b"", retain=True) == NOT_AUTHORIZED
    assert kiosk.publish("booth/workers/fake/availability", "online") == NOT_AUTHORIZED
    assert kiosk.publish("booth/workers/fake/health", '{"state": "ok"}') == NOT_AUTHORIZED

    # Another booth's result and status exist (the broker took them, retained) but never reach
    # this kiosk.
    assert worker.publish("booth/b2/results/job00003", b"\x89PNG", retain=True) == "ok"
    assert worker.publish("booth/b2/status/job00003", "{}", retain=True) == "ok"
    assert worker.publish("booth/b1/status/job00004", "{}", retain=True) == "ok"
    assert wait_until(lambda: kiosk.on("booth/b1/status/+"), 15)  # its own status does arrive
    assert kiosk.on("booth/b2/#") == []
    assert worker.on("booth/b2/jobs") == []


def test_worker_cannot_publish_jobs(booth_broker):
    worker = booth_broker.client("workers/pc1")  # a worker machine, over the LAN listener
    other = booth_broker.client("worker")
    assert worker.wait_connack().ok and other.wait_connack().ok
    other.subscribe("$share/workers/booth/+/jobs")
    assert (
        worker.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties("job00005"))
        == NOT_AUTHORIZED
    )
    assert worker.publish("booth/b1/availability", "offline", retain=True) == NOT_AUTHORIZED
    # …while a real job from the kiosk does get through to it over the LAN listener.
    worker.subscribe("$share/workers/booth/+/jobs")
    kiosk = booth_broker.client("kiosk")
    assert kiosk.wait_connack().ok
    for i in range(4):
        assert (
            kiosk.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties(f"job1000{i}")) == "ok"
        )
    assert wait_until(
        lambda: len(worker.on("booth/b1/jobs")) + len(other.on("booth/b1/jobs")) == 4, 15
    )
    assert all(
        dict(m.properties.UserProperty)["job_id"] != "job00005"
        for m in worker.on("booth/b1/jobs") + other.on("booth/b1/jobs")
    )


def test_drop_in_starts_under_debians_own_mosquitto_conf(tmp_path):
    """On the Pi the drop-in is included by the package's /etc/mosquitto/mosquitto.conf (which
    sets persistence and the log itself): that combination starts and is secured."""
    from pathlib import Path

    debian = Path("/etc/mosquitto/mosquitto.conf")
    if not debian.is_file():
        pytest.fail("mosquitto's own config is missing (Debian package mosquitto)")
    root = tmp_path / "root"
    port = free_port()
    run_install(root, "--booth-id", "b1", "--mqtt-port", str(port))
    broker = GeneratedBroker(root, tmp_path / "mq", port, debian_main=debian)
    broker.start()
    try:
        anon = Client(port)
        kiosk = Client(port, *credentials(root, "kiosk"))
        try:
            assert not anon.wait_connack().ok
            assert kiosk.wait_connack().ok
            assert kiosk.publish("booth/b1/availability", "online", retain=True) == "ok"
            assert kiosk.publish("booth/b2/availability", "online", retain=True) == NOT_AUTHORIZED
        finally:
            anon.close()
            kiosk.close()
    finally:
        broker.stop(kill=True)


def test_share_user_only_clears_its_own_booths_retained_messages(booth_broker):
    """Retention in the share process clears statuses and results with a login of its own,
    which can neither read guests' photos nor publish jobs."""
    kiosk = booth_broker.client("kiosk")
    share = booth_broker.client("share")
    assert kiosk.wait_connack().ok and share.wait_connack().ok
    assert kiosk.publish("booth/b1/status/job00009", '{"status": "completed"}', retain=True) == "ok"
    assert share.publish("booth/b1/status/job00009", b"", retain=True) == "ok"
    assert share.publish("booth/b1/results/job00009", b"", retain=True) == "ok"
    assert share.publish("booth/b2/status/job00009", b"", retain=True) == NOT_AUTHORIZED
    assert (
        share.publish("booth/b1/jobs", b"\xff\xd8jpeg", props=job_properties("job00010"))
        == NOT_AUTHORIZED
    )
    # it reads its own booth's statuses and results (retention finds orphans, the ledger
    # rebuild reads statuses) …
    assert kiosk.publish("booth/b1/status/job00012", '{"status": "pending"}', retain=True) == "ok"
    share.subscribe("booth/b1/status/+")
    assert wait_until(lambda: share.on("booth/b1/status/+"), 15)
    share.subscribe("booth/b1/jobs")
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8jpeg", props=job_properties("job00011")) == "ok"
    assert not wait_until(lambda: share.on("booth/b1/jobs"), 1.5)  # no guest photo reaches it


def test_share_user_gathers_and_publishes_health_but_no_more(booth_broker):
    """The operator's dashboard in the share process: it reads the kiosk's and the workers'
    availability and health, publishes its own and its uploader's, and cannot speak for the
    kiosk or a worker."""
    kiosk = booth_broker.client("kiosk")
    worker = booth_broker.client("worker")
    share = booth_broker.client("share")
    assert kiosk.wait_connack().ok and worker.wait_connack().ok and share.wait_connack().ok
    assert kiosk.publish("booth/b1/health", '{"state": "ok"}', retain=True) == "ok"
    assert worker.publish("booth/workers/w1/health", '{"state": "warn"}', retain=True) == "ok"
    for topic in (
        "booth/b1/health",
        "booth/b1/availability",
        "booth/workers/+/health",
        "booth/workers/+/availability",
    ):
        share.subscribe(topic)
    assert wait_until(
        lambda: share.on("booth/b1/health") and share.on("booth/workers/+/health"), 15
    )
    for topic in (
        "booth/b1/share/health",
        "booth/b1/share/availability",
        "booth/b1/uploader/health",
    ):
        assert share.publish(topic, '{"state": "ok"}', retain=True) == "ok", topic
    for topic in (
        "booth/b1/health",
        "booth/b1/availability",
        "booth/workers/w1/health",
        "booth/b2/share/health",
    ):
        assert share.publish(topic, '{"state": "ok"}', retain=True) == NOT_AUTHORIZED, topic


def _mqtt_connect_bytes() -> bytes:
    """A minimal MQTT 3.1.1 CONNECT (client id "p"), sent in the clear."""
    body = b"\x00\x04MQTT\x04\x02\x00\x1e" + b"\x00\x01p"
    return bytes([0x10, len(body)]) + body


@pytest.mark.skipif(LAN_IP is None, reason="this machine has no non-loopback address")
def test_lan_listener_is_tls_only_and_worker_logins_are_narrow(booth_broker):
    """From a non-loopback address: the local listener is not there, the LAN listener refuses
    plaintext; a worker machine's login over TLS works, cannot subscribe to `#` or read
    results, cannot publish a job, yet gets jobs and may answer them."""
    with pytest.raises(ConnectionRefusedError):  # the local listener is bound to 127.0.0.1
        socket.create_connection((LAN_IP, booth_broker.port), timeout=5)
    with socket.create_connection((LAN_IP, booth_broker.lan_port), timeout=5) as s:
        s.sendall(_mqtt_connect_bytes())
        s.settimeout(5)
        try:
            reply = s.recv(64)
        except ConnectionResetError:
            reply = b""
        assert not reply.startswith(b"\x20"), "a CONNACK over plaintext on the LAN listener"
    plain = Client(
        booth_broker.lan_port, *credentials(booth_broker.root, "workers/pc1"), host=LAN_IP
    )
    try:
        assert not plain._connack.wait(3), "plaintext login accepted"
    finally:
        plain.close()
    # TLS with the booth's CA: only the CA install.sh made proves it is this booth
    stranger = booth_broker.client(
        "workers/pc1", host=LAN_IP, ca_file="/etc/ssl/certs/ca-certificates.crt"
    )
    assert not stranger._connack.wait(3), "the booth's certificate passed a public CA check"

    pc1 = booth_broker.client("workers/pc1", host=LAN_IP)
    assert pc1.wait_connack().ok
    assert pc1.subscribe("#")[0].is_failure
    assert pc1.subscribe("booth/+/results/+")[0].is_failure
    assert pc1.subscribe("booth/b1/status/+")[0].is_failure
    assert not pc1.subscribe("$share/workers/booth/+/jobs")[0].is_failure
    assert (
        pc1.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties("job20000"))
        == NOT_AUTHORIZED
    )
    assert pc1.publish("booth/b1/availability", "offline", retain=True) == NOT_AUTHORIZED
    kiosk = booth_broker.client("kiosk")
    assert kiosk.wait_connack().ok
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties("job20001")) == "ok"
    assert wait_until(lambda: pc1.on("booth/b1/jobs"), 15)
    assert pc1.publish("booth/b1/status/job20001", '{"status": "processing"}', retain=True) == "ok"
    assert pc1.publish("booth/b1/results/job20001", b"\x89PNG", retain=True) == "ok"
    assert pc1.publish("booth/workers/worker-pc1-1/availability", "online", retain=True) == "ok"
    assert pc1.on("booth/b1/status/+") == [] and pc1.on("booth/b1/results/+") == []

    # one login per machine: the local users and a wrong password get nothing on the LAN
    for role in ("worker", "kiosk"):
        local = booth_broker.client(
            role, port=booth_broker.lan_port, host=LAN_IP, ca_file=booth_broker.ca
        )
        assert not local.wait_connack().ok, role
    user, _pw = credentials(booth_broker.root, "workers/pc2")
    wrong = Client(booth_broker.lan_port, user, "not-it", host=LAN_IP, ca_file=booth_broker.ca)
    try:
        assert not wrong.wait_connack().ok
    finally:
        wrong.close()
    assert booth_broker.client("workers/pc2", host=LAN_IP).wait_connack().ok


def test_a_worker_machine_login_is_revoked(booth_broker, tmp_path):
    root = booth_broker.root
    out = run_install(
        root,
        "--booth-id",
        "b1",
        "--mqtt-port",
        str(booth_broker.port),
        "--lan",
        "--lan-port",
        str(booth_broker.lan_port),
        "--lan-address",
        LAN_IP or "127.0.0.1",
        "--remove-worker",
        "pc2",
    ).stdout
    assert "removed worker machine pc2" in out
    assert not (root / "etc/booth/workers/pc2.env").exists()
    booth_broker.restart()
    assert booth_broker.client("workers/pc1").wait_connack().ok
    user = "worker-pc2"
    lan = json.loads((root / "etc/mosquitto/booth-lan.json").read_text())
    assert [c["username"] for c in lan["clients"]] == ["worker-pc1"]
    gone = Client(booth_broker.lan_port, user, "any", ca_file=booth_broker.ca)
    try:
        assert not gone.wait_connack().ok
    finally:
        gone.close()


def test_a_worker_machines_env_file_reaches_the_tls_listener_through_every_connection(
    booth_broker, tmp_path
):
    """The env file install.sh writes for a worker machine, loaded as that machine would load
    it: every connection the processes make (MqttConnection.for_config, read_retained) takes the
    broker's CA from BOOTH_MQTT_CA_FILE; with the system's trust store instead, none connects."""
    from booth.config import load_config
    from booth.mqtt import MqttConnection, read_retained

    env = env_file(booth_broker.root / "etc/booth/workers/pc1.env")
    # (the file names the booth <host>.local, which only mDNS on a real LAN resolves)
    login, _host = env["BOOTH_MQTT_URL"].rsplit("@", 1)
    env["BOOTH_MQTT_URL"] = f"{login}@{LAN_IP or '127.0.0.1'}:{booth_broker.lan_port}"
    empty = tmp_path / "booth.toml"
    empty.write_text("")
    cfg = load_config(empty, {**env, "BOOTH_MQTT_CA_FILE": booth_broker.ca})
    conn = MqttConnection.for_config(cfg.mqtt, "worker-pc1-1").start()
    try:
        assert conn.wait_connected(10), "no TLS connection with the booth's CA"
    finally:
        conn.stop(0.5)
    assert read_retained(cfg.mqtt, "worker-pc1-1", ["booth/b1/jobs"], connect_s=10) == {}

    public = load_config(empty, {**env, "BOOTH_MQTT_CA_FILE": ""})
    with pytest.raises(TimeoutError):
        read_retained(public.mqtt, "worker-pc1-1", ["booth/b1/jobs"], connect_s=3)
