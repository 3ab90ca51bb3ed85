"""Checks through the MQTT broker: it accepts this booth's login and offers what the booth uses
(read from its CONNACK), and a worker is online and healthy (its retained availability and
health)."""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config

if TYPE_CHECKING:
    from booth.mqtt import BrokerFeatures


# ------------------------------------------------------------------------------- broker
def check_broker(cfg: Config, probe: Probe) -> Check:
    from booth.mqtt import BrokerUrl, MqttConnection, MqttUrlError

    try:
        url = BrokerUrl.parse(cfg.mqtt.url)
    except MqttUrlError as exc:
        return Check(
            "broker",
            FAIL,
            f"mqtt.url is unusable: {exc}",
            "set mqtt.url (or BOOTH_MQTT_URL) to mqtt://user:pass@host:1883",
        )
    try:
        with socket.create_connection((url.host, url.port), timeout=probe.broker_timeout_s):
            pass
    except OSError as exc:
        return Check(
            "broker",
            FAIL,
            f"cannot reach {url.safe()}: {exc.strerror or exc}",
            "start the broker (systemctl start mosquitto) or fix the host/port in BOOTH_MQTT_URL",
        )
    refused: list[str] = []
    # Asks for the workers' session expiry to learn what the broker grants; the session is
    # dropped on the way out (stop(end_session=True)).
    conn = MqttConnection.for_config(
        cfg.mqtt,
        f"doctor-{socket.gethostname()[:20]}-{os.getpid()}",
        reconnect_min_s=30,
        session_expiry_s=cfg.mqtt.session_expiry_s,
    )
    original = conn.paho.on_connect

    def on_connect(client, userdata, flags, reason, props):  # record a refusal's reason
        if reason.is_failure:
            refused.append(str(reason))
        original(client, userdata, flags, reason, props)

    conn.paho.on_connect = on_connect
    try:
        conn.start()
        deadline = time.monotonic() + probe.broker_timeout_s
        ok = False
        while not refused and time.monotonic() < deadline:  # a refusal ends the wait early
            ok = conn.wait_connected(0.05)
            if ok:
                break
    finally:
        conn.stop(timeout=1.0, end_session=True)
    if ok:
        who = f" as {url.username}" if url.username else " anonymously"
        found = f"connected to {url.safe()}{who}"
        return _offer(found, conn.features) if conn.features else Check("broker", OK, found)
    if refused:
        return Check(
            "broker",
            FAIL,
            f"{url.safe()} refused the connection: {refused[0]}",
            "check the user and password in BOOTH_MQTT_URL (/etc/booth/kiosk.env or "
            "worker.env) against the broker's password file; re-run deploy/install.sh",
        )
    return Check(
        "broker",
        FAIL,
        f"{url.safe()} accepts TCP but no MQTT session came up",
        "is it a TLS port (use mqtts://) or not a broker at all?",
    )


def _offer(connected: str, features: BrokerFeatures) -> Check:
    """What the broker's CONNACK offers, against what the booth uses (docs/protocol.md)."""
    missing = features.unusable()
    if missing:
        return Check(
            "broker",
            FAIL,
            f"{connected}, but it offers no {' and no '.join(missing)}: statuses, results and "
            "jobs cannot flow",
            "use an MQTT 5 broker with retained messages, wildcard subscriptions and QoS 1 "
            "(mosquitto: deploy/install.sh sets it up)",
        )
    kept = f"it keeps a worker's queued jobs {features.session_expiry_s} s"
    if not features.session_expiry_s:
        kept = "it keeps no queued jobs for a worker that is away"
    if features.session_capped:
        kept += f" (its limit; mqtt.session_expiry_s asks {features.asked_session_expiry_s} s)"
    if not features.shared_subscriptions:
        return Check(
            "broker",
            WARN,
            f"{connected}; it offers no shared subscriptions: every worker receives every "
            f"photo and the first to claim it runs it (docs/worker.md); {kept}",
            "nothing, for a few workers; for many, a broker with MQTT 5 shared subscriptions "
            "deals the photos instead (mosquitto is one)",
        )
    return Check("broker", OK, f"{connected}; shared subscriptions offered, {kept}")


# ------------------------------------------------------------------------------- workers
RETAINED_WAIT_S = 0.5  # retained messages follow the subscription at once; a margin for them


def check_workers(cfg: Config, probe: Probe, role: str = "booth") -> Check:
    """Which workers say `online`, and what their retained health says (the AI state, with the
    reason and the fix the worker published: worker/health.py). On a booth no worker online is
    a failure (every photo waits); on a worker machine (`--role worker`) a warning, since its
    own worker may simply not be started yet. An online worker that speaks another protocol
    version than this machine is a warning: both sides ignore what they do not know, so photos
    still work, but whatever is newer is unused until the older side is upgraded."""
    from booth.healthboard import HealthBoard, protocol_words
    from booth.mqtt import BrokerUrl, MqttConnection, MqttUrlError
    from booth.protocol import Topics

    try:
        url = BrokerUrl.parse(cfg.mqtt.url)
    except MqttUrlError:
        return Check("workers", WARN, "not checked: mqtt.url is unusable", "see the broker check")
    try:
        socket.create_connection((url.host, url.port), timeout=probe.broker_timeout_s).close()
    except OSError:
        return Check(
            "workers", WARN, "not checked: the broker cannot be reached", "see the broker check"
        )
    board = HealthBoard(Topics(cfg.mqtt.root), cfg.booth_id)  # (a malformed message says nothing)
    conn = MqttConnection.for_config(
        cfg.mqtt,
        f"doctor-w-{socket.gethostname()[:20]}-{os.getpid()}",
        subscriptions=board.subscriptions(kiosk=False, services=False),
        on_message=lambda msg: board.feed(msg.topic, msg.payload, msg.properties),
        reconnect_min_s=30,
    )
    try:
        conn.start()
        connected = conn.wait_connected(probe.broker_timeout_s)
        if connected:
            time.sleep(RETAINED_WAIT_S)
    finally:
        conn.stop(timeout=1.0)
    if not connected:
        return Check("workers", WARN, "not checked: no MQTT session", "see the broker check")
    seen = board.workers()
    online = {w: on for w, (on, _h) in seen.items() if on is not None}
    health = {w: h for w, (_on, h) in seen.items() if h is not None}
    up = sorted(w for w, on in online.items() if on)
    if not up:
        known = f" ({len(online)} known, all offline)" if online else ""
        return Check(
            "workers",
            FAIL if role == "booth" else WARN,
            f"no worker is online{known}: photos are paused until one is",
            "start one (systemctl start booth-worker, or `booth worker` on any machine "
            "that reaches the broker)",
        )
    versions = board.protocol_versions()
    mixed = [(w, versions[w]) for w in up if protocol_words(versions.get(w))]
    other = "; ".join(f"worker {w} {protocol_words(v)}" for w, v in mixed)
    said = [(w, health[w]) for w in up if w in health]
    for level, state in ((FAIL, "error"), (WARN, "warn")):
        bad = [(w, h) for w, h in said if h.state == state]
        if bad:
            w, h = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            found = f"worker {w}: AI {h.ai}: {h.reason}{more}" + (f"; {other}" if other else "")
            return Check("workers", level, found, h.fix)
    states = ", ".join(f"{w} (AI {health[w].ai})" if w in health else w for w in up)
    if mixed:
        return Check("workers", WARN, f"{len(up)} online: {states}; {other}", _upgrade_fix(mixed))
    return Check("workers", OK, f"{len(up)} online: {states}")


def _upgrade_fix(mixed: list[tuple[str, int]]) -> str:
    """What to upgrade when workers speak another protocol version than this machine."""
    from booth.protocol import PROTOCOL_VERSION

    older = [w for w, v in mixed if v < PROTOCOL_VERSION]
    fixes = []
    if len(older) < len(mixed):
        fixes.append("upgrade this machine's booth software to the workers' version")
    if older:
        fixes.append(f"upgrade worker {', '.join(older)}")
    return " and ".join(fixes) + " (photos work meanwhile: each side ignores what it does not know)"
