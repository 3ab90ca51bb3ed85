"""The mosquitto config install.sh generates, started for real: anonymous and wrong passwords are
refused, the kiosk user stays inside its own booth, the worker user cannot publish jobs, and both
can do their own work (on the localhost and the LAN listener)."""

from __future__ import annotations

import pytest

from tests.deploy.deploytools import (Client, GeneratedBroker, credentials, job_properties,
                                      run_install, wait_until)
from tests.support.mosquitto import free_port

NOT_AUTHORIZED = "Not authorized"


@pytest.fixture
def booth_broker(tmp_path):
    root = tmp_path / "root"
    port, lan_port = free_port(), free_port()
    run_install(root, "--booth-id", "b1", "--mqtt-port", str(port), "--lan", "--lan-port",
                str(lan_port))
    broker = GeneratedBroker(root, tmp_path / "mq", port)
    broker.start()
    broker.lan_port = lan_port
    clients: list[Client] = []

    def client(role: str | None = None, port: int | None = None, **kw) -> Client:
        user, pw = credentials(root, role) if role else (None, None)
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
        assert not ack.ok and ("Bad user name or password" in ack.reason
                               or NOT_AUTHORIZED in ack.reason)
    finally:
        wrong.close()
    anon_lan = booth_broker.client(port=booth_broker.lan_port)
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
    assert kiosk.publish("booth/b1/status/job00001", '{"status": "pending"}',
                         retain=True) == "ok"
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8jpeg", props=job_properties("job00001")) \
        == "ok"
    assert wait_until(lambda: worker.on("booth/b1/jobs"), 15)
    job = worker.on("booth/b1/jobs")[0]
    assert dict(job.properties.UserProperty)["job_id"] == "job00001"

    assert worker.publish("booth/workers/w1/availability", "online", retain=True) == "ok"
    assert worker.publish("booth/workers/w1/health", '{"state": "ok"}', retain=True) == "ok"
    assert worker.publish("booth/b1/status/job00001", '{"status": "processing"}',
                          retain=True) == "ok"
    assert worker.publish("booth/b1/results/job00001", b"\x89PNG", retain=True) == "ok"
    assert wait_until(lambda: kiosk.on("booth/b1/results/+") and
                      len(kiosk.on("booth/b1/status/+")) >= 2 and
                      kiosk.on("booth/workers/+/availability") and
                      kiosk.on("booth/workers/+/health"), 15)
    # The kiosk clears the retained result once stored.
    assert kiosk.publish("booth/b1/results/job00001", b"", retain=True) == "ok"


def test_kiosk_cannot_touch_another_booth(booth_broker):
    kiosk = booth_broker.client("kiosk")
    worker = booth_broker.client("worker")
    spy = booth_broker.client("worker")  # may read statuses/results of every booth
    assert kiosk.wait_connack().ok and worker.wait_connack().ok and spy.wait_connack().ok
    worker.subscribe("$share/workers/booth/+/jobs")
    spy.subscribe("booth/+/results/+")
    spy.subscribe("booth/+/status/+")
    kiosk.subscribe("booth/b2/results/+")  # refused or silently empty: either way nothing comes
    kiosk.subscribe("booth/+/status/+")

    # Publishing on another booth's topics is refused by the broker.
    assert kiosk.publish("booth/b2/jobs", b"\xff\xd8", props=job_properties("job00002")) \
        == NOT_AUTHORIZED
    assert kiosk.publish("booth/b2/status/job00002", "{}", retain=True) == NOT_AUTHORIZED
    assert kiosk.publish("booth/b2/results/job00002", b"", retain=True) == NOT_AUTHORIZED
    assert kiosk.publish("booth/workers/fake/availability", "online") == NOT_AUTHORIZED
    assert kiosk.publish("booth/workers/fake/health", '{"state": "ok"}') == NOT_AUTHORIZED

    # Another booth's result and status exist (the spy sees them) but never reach this kiosk.
    assert worker.publish("booth/b2/results/job00003", b"\x89PNG", retain=True) == "ok"
    assert worker.publish("booth/b2/status/job00003", "{}", retain=True) == "ok"
    assert worker.publish("booth/b1/status/job00004", "{}", retain=True) == "ok"
    assert wait_until(lambda: spy.on("booth/b2/results/+") and spy.on("booth/b1/status/+"), 15)
    assert wait_until(lambda: kiosk.on("booth/b1/status/+"), 15)  # its own status does arrive
    assert kiosk.on("booth/b2/#") == []
    assert worker.on("booth/b2/jobs") == []


def test_worker_cannot_publish_jobs(booth_broker):
    worker = booth_broker.client("worker", port=booth_broker.lan_port)  # a remote worker
    other = booth_broker.client("worker")
    assert worker.wait_connack().ok and other.wait_connack().ok
    other.subscribe("$share/workers/booth/+/jobs")
    assert worker.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties("job00005")) \
        == NOT_AUTHORIZED
    assert worker.publish("booth/b1/availability", "offline", retain=True) == NOT_AUTHORIZED
    # …while a real job from the kiosk does get through to it over the LAN listener.
    worker.subscribe("$share/workers/booth/+/jobs")
    kiosk = booth_broker.client("kiosk")
    assert kiosk.wait_connack().ok
    for i in range(4):
        assert kiosk.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties(f"job1000{i}")) \
            == "ok"
    assert wait_until(lambda: len(worker.on("booth/b1/jobs")) + len(other.on("booth/b1/jobs"))
                      == 4, 15)
    assert all(dict(m.properties.UserProperty)["job_id"] != "job00005"
               for m in worker.on("booth/b1/jobs") + other.on("booth/b1/jobs"))


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
    assert kiosk.publish("booth/b1/status/job00009", '{"status": "completed"}', retain=True) \
        == "ok"
    assert share.publish("booth/b1/status/job00009", b"", retain=True) == "ok"
    assert share.publish("booth/b1/results/job00009", b"", retain=True) == "ok"
    assert share.publish("booth/b2/status/job00009", b"", retain=True) == NOT_AUTHORIZED
    assert share.publish("booth/b1/jobs", b"\xff\xd8jpeg",
                         props=job_properties("job00010")) == NOT_AUTHORIZED
    share.subscribe("booth/b1/jobs")
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8jpeg", props=job_properties("job00011")) \
        == "ok"
    assert not wait_until(lambda: share.on("booth/b1/jobs"), 1.5)  # no guest photo reaches it
