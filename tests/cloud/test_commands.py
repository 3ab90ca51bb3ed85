"""`booth snap` and headless `booth up` with [cloud] on, as real processes, the bucket behind a
64 kB/s uplink (tests/support/throttle.py) so that an upload takes a moment: each prints the
cloud link once the upload is confirmed, and neither stops the share server it started before
that (snap once did, about 0.1 s after the result was stored: the photo never went up)."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.helpers import without_clips
from tests.e2e.rig import BOOTH, ROOT, Rig
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.s3 import S3Base, cloud_toml
from tests.support.throttle import ThrottledProxy

PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"


@pytest.fixture
def cloud_rig(
    tmp_path: Path, broker: Mosquitto, s3: S3Base
) -> Iterator[tuple[Rig, dict[str, str]]]:
    proxy = ThrottledProxy(s3.port, 64 * 1024, shared=False).start()
    rig = Rig(tmp_path, broker, extra_toml=cloud_toml(s3, endpoint=proxy.endpoint))
    try:
        yield rig, {**rig.env, **s3.creds}
    finally:
        rig.close()
        proxy.stop()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        data: bytes = resp.read()
        return data


def page_photo(page_url: str) -> bytes:
    """The photo the cloud page shows, fetched as a phone would."""
    page = fetch(page_url).decode()
    src = re.search(r'<img id="photo" class="photo" src="([^"]+)"', page)
    assert src is not None, page[:500]
    return fetch(src.group(1).replace("&amp;", "&"))


def test_snap_waits_for_the_upload_and_prints_the_cloud_link(cloud_rig, s3):
    rig, env = cloud_rig
    out = subprocess.run(
        [*BOOTH, "snap", str(PORTRAIT), "--json"],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed", result
    # the photo and its page, there after snap ended (and perhaps already the clip that follows)
    objects = s3.objects()
    page = min(objects, key=len, default="")
    assert without_clips(objects, [page]) == [page, page + ".jpg"], out.stderr
    assert result.get("cloud_url") and result["cloud_error"] is None, result
    assert page_photo(result["cloud_url"]) == Path(result["result_path"]).read_bytes()


@pytest.mark.s3("moto")  # what snap prints, not what the server does
def test_snap_prints_the_cloud_link_and_its_qr(cloud_rig):
    rig, env = cloud_rig
    out = subprocess.run(
        [*BOOTH, "snap", str(PORTRAIT)],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    cloud = re.search(r"^cloud:    (\S+) \(until \d{4}-\d\d-\d\d \d\d:\d\d\)$", out.stdout, re.M)
    assert cloud is not None, out.stdout
    assert "download: http://127.0.0.1:" in out.stdout  # the LAN link stays
    assert "▀" in out.stdout or "▄" in out.stdout
    assert "waiting for the cloud upload" in out.stderr
    assert b"<html" in fetch(cloud.group(1))


@pytest.mark.s3("moto")
def test_snap_says_why_there_is_no_cloud_link(cloud_rig, s3):
    """The bucket gone: snap waits no longer than --cloud-wait and says what the upload met."""
    rig, env = cloud_rig
    s3.stop()
    out = subprocess.run(
        [*BOOTH, "snap", str(PORTRAIT), "--json", "--cloud-wait", "3"],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr  # the photo itself is done: the LAN link works
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["cloud_url"] is None and result["url"]
    assert result["cloud_error"].startswith("not uploaded within 3 s: "), result
    assert "cannot reach the bucket" in result["cloud_error"], result


@pytest.mark.s3("moto")
def test_headless_up_prints_each_cloud_link_once_confirmed(cloud_rig):
    rig, env = cloud_rig
    env = dict(env, BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}")  # a private broker
    for k in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(k, None)
    done = subprocess.run(
        [*BOOTH, "up", "--headless", "--interval", "0.5", "--shots", "2"],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=180,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    lan = re.findall(r"photo ready: (\S+)  download: (\S+)", said)
    cloud = re.findall(r"^cloud link: (\S+)  \(job (\w+): any network, until ", done.stdout, re.M)
    assert len(lan) == 2 and len(cloud) == 2, said
    results = {Path(path).name.split("-")[0]: Path(path).read_bytes() for path, _ in lan}
    for url, job_id in cloud:
        assert page_photo(url) == results[job_id]
