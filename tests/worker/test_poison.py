"""Bad payloads end failed/bad_input, are acked (no poison loop) and the worker keeps serving."""

from __future__ import annotations

import os
import struct
import zlib

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from booth.protocol import GUEST_MESSAGES, ErrorKind, JobStatus
from tests.worker.helpers import portrait_bytes, wait_until


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


POISON = {
    "empty": b"",
    "random-bytes": os.urandom(5000),
    "truncated-jpeg": portrait_bytes()[: len(portrait_bytes()) // 2],
    "png-100-megapixels": png_declaring(10_000, 10_000),
    "20-mb-payload": b"\xff\xd8\xff\xe0" + os.urandom(20_000_000),
}


def test_poison_payloads_fail_bad_input_and_the_next_job_completes(
    worker_config, start_worker, kiosk, fake
):
    # concurrency 1 = receive maximum 1: one un-acked poison job would block everything after it
    w = start_worker(worker_config("concurrency = 1"))
    jobs = {
        name: kiosk.send(payload, content_type="image/png" if "png" in name else "image/jpeg")
        for name, payload in POISON.items()
    }
    # a job without job_id: nobody can be told, but it must be acked and not block the queue
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "image/jpeg"
    props.UserProperty = [("style", "drip"), ("created_at", "2026-11-24T09:00:00.000Z")]
    kiosk.send(portrait_bytes(), pending=False, props=props)
    good = kiosk.send(portrait_bytes())
    for name, job in jobs.items():
        final = kiosk.final(job, timeout=30)
        assert final is not None, name
        assert final.status is JobStatus.FAILED, name
        assert final.error.kind is ErrorKind.BAD_INPUT, name
        assert final.error.message == GUEST_MESSAGES[ErrorKind.BAD_INPUT]
        assert kiosk.results(job) == [], name
    assert kiosk.final(good, timeout=30).status is JobStatus.COMPLETED
    assert len(fake.requests) == 1  # no model call for any bad job
    assert wait_until(lambda: w.counts["rejected"] == len(POISON) + 1, 10)


def test_validation_rules():
    import cv2
    import numpy as np
    import pytest

    from booth.images import BadImage
    from worker.validate import decode_job_image

    good = portrait_bytes()
    assert decode_job_image(good, 15_000_000, 40_000_000).image.shape == (512, 512, 3)
    with pytest.raises(BadImage, match="limit is 1000"):
        decode_job_image(good, 1000, 40_000_000)
    with pytest.raises(BadImage, match="megapixels"):
        decode_job_image(good, 15_000_000, 200_000)
    with pytest.raises(BadImage, match="megapixels"):
        decode_job_image(png_declaring(10_000, 10_000), 15_000_000, 40_000_000)
    with pytest.raises(BadImage, match="truncated"):
        decode_job_image(good[:-200], 15_000_000, 40_000_000)
    with pytest.raises(BadImage, match="neither"):
        decode_job_image(b"GIF89a" + b"\0" * 100, 15_000_000, 40_000_000)
    ok, png = cv2.imencode(".png", np.zeros((10, 30, 3), np.uint8))
    assert decode_job_image(png.tobytes(), 15_000_000, 40_000_000).kind == "image/png"
    with pytest.raises(BadImage, match="truncated"):
        decode_job_image(png.tobytes()[:-12], 15_000_000, 40_000_000)
