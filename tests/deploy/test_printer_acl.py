"""The print topics under the ACL install.sh writes, on a real mosquitto: the kiosk asks for
prints but cannot send the operator's commands (a guest at the screen cannot resume, cancel,
reprint or add paper); the share server sends those commands and reads the printer's health;
the printer process reads both and says its state, each photo's prints and its health, and
touches no job, status or result."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.deploytools import (
    REPO,
    Client,
    GeneratedBroker,
    credentials,
    job_properties,
    run_install,
    wait_until,
)
from tests.support.mosquitto import free_port


def installed(package: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return out.stdout == "install ok installed"


pytestmark = pytest.mark.broker

NOT_AUTHORIZED = "Not authorized"
COMMAND = '{"action": "resume", "command_id": "c-1"}'


@pytest.fixture
def acl_broker(tmp_path):
    root = tmp_path / "root"
    port = free_port()
    run_install(root, "--booth-id", "b1", "--mqtt-port", str(port), "--printer")
    broker = GeneratedBroker(root, tmp_path / "mq", port)
    broker.start()
    clients: list[Client] = []

    def client(role: str) -> Client:
        c = Client(port, *credentials(root, role))
        clients.append(c)
        assert c.wait_connack().ok, role
        return c

    yield client
    for c in clients:
        c.close()
    broker.stop(kill=True)


def test_only_the_share_server_sends_print_commands(acl_broker):
    printer = acl_broker("printer")
    kiosk = acl_broker("kiosk")
    share = acl_broker("share")
    assert printer.subscribe("booth/b1/print/requests")[0].value < 0x80
    assert printer.subscribe("booth/b1/print/commands")[0].value < 0x80
    assert kiosk.subscribe("booth/b1/print/#")[0].value < 0x80
    # the kiosk asks for a print; it may not command the printer
    assert kiosk.publish("booth/b1/print/requests", '{"job_id": "job00001"}') == "ok"
    assert kiosk.publish("booth/b1/print/commands", COMMAND) == NOT_AUTHORIZED
    # the share server does
    assert share.publish("booth/b1/print/commands", COMMAND) == "ok"
    assert wait_until(lambda: printer.on("booth/b1/print/requests"), 15)
    assert wait_until(lambda: printer.on("booth/b1/print/commands"), 15)
    assert [bytes(m.payload) for m in printer.on("booth/b1/print/commands")] == [COMMAND.encode()]


def test_the_printer_says_its_word_and_touches_no_job(acl_broker):
    printer = acl_broker("printer")
    kiosk = acl_broker("kiosk")
    share = acl_broker("share")
    assert kiosk.subscribe("booth/b1/print/#")[0].value < 0x80
    assert kiosk.subscribe("booth/b1/printer/+")[0].value < 0x80
    assert share.subscribe("booth/b1/printer/+")[0].value < 0x80
    for topic in ("booth/b1/print/state", "booth/b1/print/status/job00001"):
        assert printer.publish(topic, "{}", retain=True) == "ok"
    assert printer.publish("booth/b1/printer/health", '{"state": "ok"}', retain=True) == "ok"
    assert printer.publish("booth/b1/printer/availability", "online", retain=True) == "ok"
    assert wait_until(
        lambda: kiosk.on("booth/b1/print/#") and len(share.on("booth/b1/printer/+")) == 2, 15
    )
    # a job, a status, a result, a worker's word or another booth's: refused
    assert (
        printer.publish("booth/b1/jobs", b"\xff\xd8", props=job_properties("job00002"))
        == NOT_AUTHORIZED
    )
    assert printer.publish("booth/b1/status/job00002", "{}", retain=True) == NOT_AUTHORIZED
    assert printer.publish("booth/b1/results/job00002", b"", retain=True) == NOT_AUTHORIZED
    assert printer.publish("booth/b2/print/state", "{}", retain=True) == NOT_AUTHORIZED
    assert printer.publish("booth/b1/print/requests", "{}") == NOT_AUTHORIZED


def test_install_printer_keeps_and_removes_the_unit(tmp_path):
    """--printer installs CUPS and Gutenprint, puts the booth user in lpadmin and installs and
    enables booth-printer; a later run without it keeps that; --no-printer removes the unit."""
    root = tmp_path / "root"
    out = run_install(root, "--booth-id", "b1", "--printer").stdout
    unit = root / "etc/systemd/system/booth-printer.service"
    repo_unit = (REPO / "systemd/booth-printer.service").read_text()
    assert unit.read_text() == repo_unit
    wanted = out.split("Debian packages to install:", 1)[-1].split("\n", 1)[0].split()
    for package in ("cups", "cups-filters", "cups-ipp-utils", "printer-driver-gutenprint"):
        assert package in wanted or installed(package), package
    assert "usermod -aG lpadmin booth" in out
    assert "systemctl enable --quiet cups booth-printer" in out
    assert (root / "etc/booth/printer.env").read_text().count("BOOTH_MQTT_URL=mqtt://printer:")
    again = run_install(root, "--booth-id", "b1").stdout
    assert unit.exists() and "systemctl enable --quiet cups booth-printer" in again
    assert "install: done: no changes" in again
    gone = run_install(root, "--booth-id", "b1", "--no-printer").stdout
    assert not unit.exists() and "removed booth-printer" in gone
    assert "booth-printer" not in run_install(root, "--booth-id", "b1").stdout
