"""A small MQTT 5 connection on paho-mqtt 2.x shared by kiosk, worker and tools.

Why a wrapper: every process needs the same things done the same way — URL parsing, a will
message with a retained `online` birth, persistent sessions, automatic reconnect with backoff,
publishes whose broker ack can be awaited with a timeout, a clean shutdown that says `offline`,
and what the broker's CONNACK says it offers (:class:`BrokerFeatures`: not every MQTT 5 broker
offers shared subscriptions or keeps a session as long as asked). Callbacks run on paho's network
thread; nothing here blocks a caller's thread for longer than the timeout it passes.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from booth.protocol import OFFLINE, ONLINE, availability_properties

if TYPE_CHECKING:
    from booth.config import MqttConfig

log = logging.getLogger(__name__)


class MqttUrlError(ValueError):
    pass


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttUrlError(
                f"broker URL must start with mqtt:// or mqtts://, got {parts.scheme!r}"
            )
        if not parts.hostname:
            raise MqttUrlError("broker URL has no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise MqttUrlError(f"broker URL has a bad port: {exc}") from None
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def safe(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


SHARED_PREFIX = "$share/"


def plain_filter(topic_filter: str) -> str:
    """The filter inside a shared subscription (`$share/{group}/{filter}` → `{filter}`); any
    other filter as it is. Subscribed plainly, every subscriber gets every message."""
    if not topic_filter.startswith(SHARED_PREFIX):
        return topic_filter
    parts = topic_filter.split("/", 2)
    return parts[2] if len(parts) == 3 else topic_filter


def _flag(props: Properties, name: str) -> bool:
    """A CONNACK availability property: absent means available (MQTT 5, 3.2.2.3)."""
    return bool(getattr(props, name, 1))


@dataclass(frozen=True)
class BrokerFeatures:
    """What the broker's CONNACK said it offers, of what the booth leans on.

    MQTT 5 brokers differ: ejabberd offers no shared subscriptions and caps a session's expiry at
    300 s, where mosquitto offers both as asked. A property the broker leaves out means
    "available" (or, for the session expiry, "as asked"), so a broker that says nothing is read
    as offering everything. paho hands the CONNACK's properties to on_connect; a property is an
    attribute only when the broker sent it.
    """

    shared_subscriptions: bool = True
    session_expiry_s: int = 0  # what the broker keeps a session for after a disconnect
    asked_session_expiry_s: int = 0
    retain: bool = True
    wildcards: bool = True
    maximum_qos: int = 2
    maximum_packet_size: int | None = None  # bytes; None = no limit said
    keepalive_s: int | None = None  # the broker's Server Keep Alive, when it overrides ours

    @classmethod
    def from_connack(cls, props: Properties | None, asked_session_expiry_s: int) -> BrokerFeatures:
        if props is None:
            return cls(
                session_expiry_s=asked_session_expiry_s,
                asked_session_expiry_s=asked_session_expiry_s,
            )
        granted = getattr(props, "SessionExpiryInterval", None)
        size = getattr(props, "MaximumPacketSize", None)
        keepalive = getattr(props, "ServerKeepAlive", None)
        return cls(
            shared_subscriptions=_flag(props, "SharedSubscriptionAvailable"),
            session_expiry_s=int(granted) if granted is not None else asked_session_expiry_s,
            asked_session_expiry_s=asked_session_expiry_s,
            retain=_flag(props, "RetainAvailable"),
            wildcards=_flag(props, "WildcardSubscriptionAvailable"),
            maximum_qos=int(getattr(props, "MaximumQoS", 2)),
            maximum_packet_size=int(size) if size is not None else None,
            keepalive_s=int(keepalive) if keepalive is not None else None,
        )

    @property
    def session_capped(self) -> bool:
        """The broker keeps a session for less time than asked."""
        return self.session_expiry_s < self.asked_session_expiry_s

    def unusable(self) -> list[str]:
        """What the booth cannot work without, in plain words (empty when nothing is missing):
        statuses and results are retained, workers and kiosks subscribe with `+`, and every
        message is QoS 1."""
        missing = []
        if not self.retain:
            missing.append("retained messages")
        if not self.wildcards:
            missing.append("wildcard subscriptions")
        if self.maximum_qos < 1:
            missing.append("QoS 1")
        return missing

    def shortfalls(self) -> str:
        """What the broker offers less of than the booth asks, for a log line ("" if nothing)."""
        said = []
        if not self.shared_subscriptions:
            said.append("no shared subscriptions")
        if self.session_capped:
            said.append(
                f"sessions kept {self.session_expiry_s} s, not the "
                f"{self.asked_session_expiry_s} s asked"
            )
        said += [f"no {what}" for what in self.unusable()]
        return ", ".join(said)


class PublishHandle:
    """The broker's acknowledgement of one publish, awaitable with a timeout."""

    def __init__(self, mid: int) -> None:
        self.mid = mid
        self._event = threading.Event()
        self.reason: Any = None

    def _done(self, reason: Any) -> None:
        self.reason = reason
        self._event.set()

    @property
    def acked(self) -> bool:
        return self._event.is_set()

    @property
    def ok(self) -> bool:
        """Acked and not refused (an ACL denial is acked with a failure reason)."""
        if not self._event.is_set():
            return False
        reason = self.reason
        return reason is None or not getattr(reason, "is_failure", False)

    def wait(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds; True if the broker accepted the message."""
        self._event.wait(max(0.0, timeout))
        return self.ok


class _Failed(PublishHandle):
    def __init__(self, why: str) -> None:
        super().__init__(-1)
        self.why = why

    def wait(self, timeout: float) -> bool:
        return False


MessageCallback = Callable[[paho.MQTTMessage], None]


class MqttConnection:
    """One paho client with reconnect, will/birth, persistent session and awaitable publishes.

    `subscriptions` are (re)made on every connect. `on_features` runs on every connect before
    they are, with what the broker's CONNACK offers (also kept in `.features`), so a caller can
    choose its subscriptions by it; a shared subscription the broker does not offer is never sent
    (a broker may disconnect a client for it). `on_message` runs on paho's thread: hand work
    to a queue, do not block it. `availability_topic` gets a retained `online` on every connect
    and is the will (`offline`), so a crash is seen by everyone; each of the three carries this
    process's protocol version as a user property (booth/protocol.py `availability_properties`).
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        availability_topic: str | None = None,
        subscriptions: list[tuple[str, int]] | None = None,
        on_message: MessageCallback | None = None,
        on_connect: Callable[[bool], None] | None = None,
        on_features: Callable[[BrokerFeatures], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
        keepalive_s: int = 30,
        ca_file: str | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        max_queued: int = 0,
    ) -> None:
        self.url = BrokerUrl.parse(url)
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.subscriptions = list(subscriptions or [])
        self._user_on_message = on_message
        self._user_on_connect = on_connect
        self._user_on_features = on_features
        self._user_on_disconnect = on_disconnect
        self.features: BrokerFeatures | None = None  # from the last CONNACK
        self._clean_start = clean_start
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._keepalive = keepalive_s
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._subscribed = False  # this connection's subscriptions were sent (under _lock)
        self._waiters: dict[int, PublishHandle] = {}
        self._early: dict[int, Any] = {}
        self._started = False
        self._stopping = False

        c = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
        if self.url.username is not None:
            c.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            c.tls_set(ca_certs=ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        if availability_topic:
            c.will_set(
                availability_topic,
                OFFLINE,
                qos=1,
                retain=True,
                properties=availability_properties(will=True),
            )
        # paho annotates the delays as int but only compares and doubles them: 0.5 s works
        c.reconnect_delay_set(
            min_delay=reconnect_min_s,  # type: ignore[arg-type]  # paho says int: see above
            max_delay=max(reconnect_min_s, reconnect_max_s),  # type: ignore[arg-type]  # idem
        )
        c.max_queued_messages_set(max_queued)
        c.max_inflight_messages_set(20)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        self.paho = c

    @classmethod
    def for_config(cls, mqtt: MqttConfig, client_id: str, **options: Any) -> MqttConnection:
        """A connection to the broker of the [mqtt] settings: its URL, keepalive and CA file
        (every process reaches the same broker the same way)."""
        return cls(
            mqtt.url,
            client_id,
            keepalive_s=mqtt.keepalive_s,
            ca_file=mqtt.ca_file or None,
            **options,
        )

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> MqttConnection:
        """Connect in the background; returns at once. Reconnects by itself until stop()."""
        props = Properties(PacketTypes.CONNECT)
        if self._session_expiry_s:
            props.SessionExpiryInterval = int(self._session_expiry_s)
        if self._receive_maximum:
            props.ReceiveMaximum = int(self._receive_maximum)
        self.paho.connect_async(
            self.url.host,
            self.url.port,
            keepalive=self._keepalive,
            clean_start=self._clean_start,
            properties=props,
        )
        self.paho.loop_start()
        self._started = True
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(max(0.0, timeout))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self, timeout: float = 2.0, *, end_session: bool = False) -> None:
        """Say `offline` (retained), disconnect cleanly and stop the network thread.

        `end_session` asks the broker to drop this client's session now (session expiry 0 on
        the DISCONNECT) instead of keeping it for the expiry asked at connect: for a probe that
        asked for a long expiry only to see what the broker grants."""
        if not self._started:
            return
        self._stopping = True
        if self.availability_topic and self.connected:
            self.publish(
                self.availability_topic,
                OFFLINE,
                qos=1,
                retain=True,
                properties=availability_properties(),
            ).wait(timeout)
        props = None
        if end_session and self._session_expiry_s:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        try:
            self.paho.disconnect(properties=props)
        except Exception:  # already gone
            pass
        self.paho.loop_stop()
        self._started = False
        self._connected.clear()
        with self._lock:
            self._subscribed = False

    # ---------------------------------------------------------------- publishing
    def publish(
        self,
        topic: str,
        payload: bytes | str | None,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> PublishHandle:
        """Queue a publish and return at once; `.wait(t)` waits for the broker's ack.

        QoS ≥ 1 messages published while disconnected are kept by paho and sent after reconnect.
        """
        try:
            info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        except (ValueError, TypeError) as exc:
            return _Failed(str(exc))
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
            return _Failed("outgoing queue full")
        handle = PublishHandle(info.mid)
        with self._lock:
            if info.mid in self._early:
                handle._done(self._early.pop(info.mid))
            else:
                self._waiters[info.mid] = handle
        return handle

    def publish_wait(
        self,
        topic: str,
        payload: bytes | str | None,
        timeout: float,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> bool:
        return self.publish(topic, payload, qos, retain, properties).wait(timeout)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a received message (with manual_ack=True)."""
        self.paho.ack(mid, qos)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe now if connected, and again on every later connect."""
        with self._lock:
            if (topic, qos) not in self.subscriptions:
                self.subscriptions.append((topic, qos))
            now = self._subscribed  # else the next connect sends it with the others
        if now and self._offered(topic):
            self.paho.subscribe(topic, qos)

    def unsubscribe(self, topic: str) -> None:
        """Drop a subscription made by `subscribe` (or given at construction)."""
        with self._lock:
            self.subscriptions = [(t, q) for t, q in self.subscriptions if t != topic]
            now = self._subscribed
        if now:
            self.paho.unsubscribe(topic)

    def _offered(self, topic: str) -> bool:
        """False for a shared subscription the broker said it does not offer."""
        features = self.features
        return (
            features is None or features.shared_subscriptions or not topic.startswith(SHARED_PREFIX)
        )

    # ---------------------------------------------------------------- callbacks (paho thread)
    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning(
                "mqtt %s: connect refused by %s: %s", self.client_id, self.url.safe(), reason
            )
            return
        session_present = bool(getattr(flags, "session_present", False))
        features = BrokerFeatures.from_connack(props, self._session_expiry_s)
        changed = features != self.features
        self.features = features
        short = features.shortfalls() if changed else ""
        log.info(
            "mqtt %s: connected to %s (session present: %s)%s",
            self.client_id,
            self.url.safe(),
            session_present,
            f"; the broker offers {short}" if short else "",
        )
        if self._user_on_features:
            try:
                self._user_on_features(features)
            except Exception:
                log.exception("on_features hook failed")
        with self._lock:
            subscriptions = list(self.subscriptions)
            self._subscribed = True
        for topic, qos in subscriptions:
            if self._offered(topic):
                client.subscribe(topic, qos)
            elif changed:
                log.error(
                    "mqtt %s: not subscribing to %s: %s offers no shared subscriptions",
                    self.client_id,
                    topic,
                    self.url.safe(),
                )
        if self.availability_topic:
            client.publish(
                self.availability_topic,
                ONLINE,
                qos=1,
                retain=True,
                properties=availability_properties(),
            )
        self._connected.set()
        if self._user_on_connect:
            try:
                self._user_on_connect(session_present)
            except Exception:
                log.exception("on_connect hook failed")

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        with self._lock:
            self._subscribed = False
        if was and not self._stopping:
            log.warning("mqtt %s: disconnected (%s); reconnecting", self.client_id, reason)
        if self._user_on_disconnect:
            try:
                self._user_on_disconnect()
            except Exception:
                log.exception("on_disconnect hook failed")

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        with self._lock:
            handle = self._waiters.pop(mid, None)
            if handle is None:
                self._early[mid] = reason
                if len(self._early) > 10000:  # acks nobody claims (publishes made around us)
                    self._early.clear()
        if handle is not None:
            handle._done(reason)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        for r in reasons:
            if getattr(r, "is_failure", False):
                log.warning("mqtt %s: a subscription was refused: %s", self.client_id, r)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if self._user_on_message is None:
            return
        try:
            self._user_on_message(msg)
        except Exception:
            # A bad message must never kill paho's network thread.
            log.exception("mqtt %s: message handler failed on %s", self.client_id, msg.topic)


def read_retained(
    mqtt: MqttConfig,
    client_id: str,
    subscriptions: list[str],
    *,
    connect_s: float = 3.0,
    quiet_s: float = 0.7,
    max_s: float = 20.0,
) -> dict[str, bytes]:
    """topic → payload of the retained messages under `subscriptions` (empty ones left out).

    Retained messages arrive right after the subscription; the read ends once none has come for
    `quiet_s` (or after `max_s`). Raises TimeoutError when the broker cannot be reached."""
    found: dict[str, bytes] = {}
    lock = threading.Lock()
    last = [time.monotonic()]

    def on_message(msg: paho.MQTTMessage) -> None:
        with lock:
            last[0] = time.monotonic()
            if msg.retain and msg.payload:
                found[msg.topic] = bytes(msg.payload)

    conn = MqttConnection.for_config(
        mqtt, client_id, subscriptions=[(t, 1) for t in subscriptions], on_message=on_message
    )
    conn.start()
    try:
        if not conn.wait_connected(connect_s):
            raise TimeoutError(f"no broker connection within {connect_s:g} s")
        with lock:
            last[0] = time.monotonic()
        wait_for(lambda: time.monotonic() - last[0] >= quiet_s, max_s, 0.05)
    finally:
        conn.stop(0.5)
    with lock:
        return dict(found)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)
