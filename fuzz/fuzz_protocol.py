"""Fuzz every parser of the MQTT contract (booth/protocol.py): statuses, health, topics, ids,
availability with its version property, job properties and job messages. Each raises only
ProtocolError on any input; a status or health that parses writes back as the same message."""

from __future__ import annotations

from typing import Any

from booth.protocol import (
    Availability,
    Health,
    JobError,
    JobMessage,
    ProtocolError,
    Status,
    Topics,
    load_json,
    parse_availability,
    parse_iso,
    validate_job_id,
    validate_node_id,
)
from fuzz.harness import fuzz

TOPICS = Topics("booth")


def _properties(pairs: list[tuple[str, str]], content_type: str | None) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    if pairs:
        props.UserProperty = pairs
    if content_type is not None:
        props.ContentType = content_type
    return props


def one_input(data: bytes) -> None:
    if not data:
        return
    target, body = data[0] % 8, data[1:]
    text = body.decode("utf-8", "surrogateescape")
    try:
        if target == 0:
            status = Status.from_json(body)
            assert Status.from_json(status.to_json()) == status
        elif target == 1:
            health = Health.from_json(body)
            assert Health.from_json(health.to_json()) == health
        elif target == 2:
            JobError.from_dict(load_json(body, "error"))
        elif target == 3:
            TOPICS.parse(text)
        elif target == 4:
            for check in (validate_job_id, validate_node_id, parse_iso, Topics):
                try:
                    check(text)
                except ProtocolError:
                    pass
        elif target == 5:
            parse_availability(body)
        else:  # user properties: NUL-separated name/value pairs, then the payload or topic
            fields = text.split("\0")
            pairs = list(zip(fields[0:-1:2], fields[1::2]))[:8]
            props = _properties(pairs, fields[-1] if target == 6 else None)
            if target == 6:
                JobMessage.parse(TOPICS, "booth/pi-1/jobs", props)
            else:
                Availability.parse(fields[-1], props)
    except ProtocolError:
        pass


if __name__ == "__main__":
    fuzz(one_input, "protocol", ["-max_len=8192", "-timeout=10"])
