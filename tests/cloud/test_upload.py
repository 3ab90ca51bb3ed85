"""Cloud sharing against a real S3-protocol server (moto over HTTP, reached by obstore):
the kiosk pipeline on a real broker stores results, the share process's uploader puts the photo
and its phone page in the bucket, and the kiosk's view switches to the cloud link."""

from __future__ import annotations

import logging
import re
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest

from booth.qr import qr_matrix
from jobstore.ledger import Ledger, ledger_path
from jobstore.retention import run_retention
from jobstore.uploads import Uploads
from kiosk.jobs.controller import JobController
from share.server import make_app
from share.uploader import Uploader
from tests.kiosk.helpers import FIXTURES, poll
from tests.share.helpers import ServerThread, add_job
from tests.support.s3 import CREDS

PREFIX = "booth/"


def decode_qr(url: str) -> str:
    """Draw the QR the result screen would draw and read it back with OpenCV."""
    m = np.array(qr_matrix(url), dtype=np.uint8)
    img: np.ndarray = np.where(m[..., None] > 0, 0, 255).astype(np.uint8).repeat(3, axis=2)
    img = cv2.resize(img, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    text = cv2.QRCodeDetector().detectAndDecode(img)[0]
    # OpenCV's classic detector gives up on a presigned link's version-13 code; the ArUco-based
    # one reads it (a phone's camera app does too, from closer: docs/share.md, Links and QR size)
    return text or cv2.QRCodeDetectorAruco().detectAndDecode(img)[0]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()


def shoot(ctrl: JobController, worker) -> str:
    """One photo through the kiosk pipeline; the worker stand-in answers it."""
    job_id = ctrl.submit_jpeg((FIXTURES / "portrait.jpg").read_bytes())
    assert poll(lambda: job_id in worker.job_ids(), 15)
    worker.finish(job_id, effect="local")
    view = ctrl.wait_done(job_id, 15)
    assert view is not None and view.ready
    return job_id


def cloud_events(ctrl: JobController, job_id: str, timeout: float):
    """The first `cloud` event of a job (drains the kiosk's event queue like a frame loop)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for ev in ctrl.poll():
            if ev.kind == "cloud" and ev.job is not None and ev.job.job_id == job_id:
                return ev.job
        time.sleep(0.02)
    return None


def test_a_shot_goes_to_the_bucket_and_the_kiosk_switches_to_the_cloud_link(
    cloud_config, s3, worker
):
    cfg = cloud_config()
    ctrl = JobController(cfg).start()
    up = Uploader(cfg).start()
    try:
        assert poll(lambda: ctrl.mqtt.connected, 10)
        job_id = shoot(ctrl, worker)
        first = ctrl.view(job_id)
        t_ready = time.monotonic()
        job = cloud_events(ctrl, job_id, 15)
        assert job is not None, "the kiosk never learned the cloud link"
        took = time.monotonic() - t_ready
        assert first.share_url.startswith("http://booth.local:8080/p/")
        assert job.link_kind == "cloud" and job.link == job.cloud_url
        assert job.share_url == first.share_url  # the LAN link stays available
        # the QR the result screen draws from the view decodes to the cloud link
        assert decode_qr(job.link) == job.cloud_url
        assert took < 10

        # the link serves the page, and the page's photo is the stored result, byte for byte
        status, headers, page = fetch(job.cloud_url)
        html = page.decode()
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert "Anna &amp; Ben&#x27;s Wedding" in html and "on any network until" in html
        photo_url = re.search(r'<img id="photo" class="photo" src="([^"]+)"', html).group(1)
        photo_url = photo_url.replace("&amp;", "&")
        status, headers, photo = fetch(photo_url)
        assert status == 200 and headers["content-type"] == "image/jpeg"
        assert photo == job.result_path.read_bytes()

        # exactly the photo and its page, under 128+ random bits
        objects = s3.objects()
        assert len(objects) == 2
        page_key = min(objects, key=len)
        rand = page_key.removeprefix(PREFIX)
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", rand)
        assert set(objects) == {page_key, page_key + ".jpg"}
        # a presigned link that lasts cloud.link_days, signed for the configured region
        q = parse_qs(urlsplit(job.cloud_url).query)
        assert q["X-Amz-Expires"] == [str(7 * 86400)]
        assert "/us-east-1/s3/aws4_request" in q["X-Amz-Credential"][0]
        assert abs(job.cloud_expires_at - (time.time() + 7 * 86400)) < 60
    finally:
        up.stop()
        ctrl.stop()

    # a restarted kiosk (the recent strip) shows the cloud link straight from the ledger
    again = JobController(cfg)
    try:
        (view,) = [v for v in again.recent(6) if v.job_id == job_id]
        assert view.link == job.cloud_url and view.link_kind == "cloud"
    finally:
        again.ledger.close()
        again.uploads.close()


def test_bucket_down_keeps_the_lan_link_and_drains_when_it_is_back(
    cloud_config, s3, worker, caplog
):
    cfg = cloud_config()
    s3.stop()
    ctrl = JobController(cfg).start()
    up = Uploader(cfg).start()
    try:
        assert poll(lambda: ctrl.mqtt.connected, 10)
        with caplog.at_level(logging.WARNING, logger="share.uploader"):
            jobs = [shoot(ctrl, worker) for _ in range(3)]
            queue = Uploads(ledger_path(cfg.data_dir))
            try:
                assert poll(
                    lambda: all((queue.get(j) or 0) and queue.get(j).attempts >= 1 for j in jobs),
                    10,
                )
                assert {queue.get(j).state for j in jobs} == {"queued"}
                keys = [k for j in jobs for k in (queue.get(j).page_key, queue.get(j).photo_key)]
            finally:
                queue.close()
            assert up.status.state == "offline"
            time.sleep(1.0)  # a few retries while down: still the LAN link
            for j in jobs:
                v = ctrl.view(j)
                assert v.link_kind == "lan" and v.link == v.share_url and v.cloud_url is None
        assert "cannot reach the bucket's endpoint" in caplog.text
        assert caplog.text.count("cannot reach the bucket") == 1  # said once, not per retry
        assert not [k for k in keys if k in caplog.text]  # a key is a public link's secret

        s3.start()  # the network is back: uploaded within seconds, the QR switches
        t0 = time.monotonic()
        switched = set()
        while len(switched) < 3 and time.monotonic() - t0 < 10:
            switched |= {
                ev.job.job_id for ev in ctrl.poll() if ev.kind == "cloud" and ev.job is not None
            }
            time.sleep(0.02)
        assert switched == set(jobs), f"after {time.monotonic() - t0:.1f} s"
        assert all(ctrl.view(j).link_kind == "cloud" for j in jobs)
        assert len(s3.objects()) == 6
        assert up.status.state == "online"
    finally:
        up.stop()
        ctrl.stop()


@pytest.mark.s3("moto")  # s3rver checks no signature
def test_wrong_credentials_are_named_and_the_lan_link_still_works(cloud_config, s3, worker, caplog):
    good_id, good_secret = s3.access_key()
    with s3.require_signatures():
        cfg = cloud_config(
            BOOTH_CLOUD_ACCESS_KEY_ID=good_id, BOOTH_CLOUD_SECRET_ACCESS_KEY="not-the-secret"
        )
        ctrl = JobController(cfg).start()
        up = Uploader(cfg).start()
        try:
            assert poll(lambda: ctrl.mqtt.connected, 10)
            with caplog.at_level(logging.ERROR, logger="share.uploader"):
                job_id = shoot(ctrl, worker)
                assert poll(lambda: up.status.state == "refused", 10)
            assert "refused the credentials (SignatureDoesNotMatch)" in caplog.text
            assert "BOOTH_CLOUD_SECRET_ACCESS_KEY" in caplog.text
            assert "not-the-secret" not in caplog.text  # never log a secret
            assert s3.objects() == {}
            view = ctrl.view(job_id)
            assert view.link_kind == "lan"
            # the LAN link still serves the photo
            srv = ServerThread(make_app(cfg)).start()
            try:
                status, _h, body = srv.get(urlsplit(view.share_url).path + "/photo.jpg")
            finally:
                srv.stop()
            assert status == 200 and body == view.result_path.read_bytes()
        finally:
            up.stop()

        # the same server accepts the booth's signatures when the secret is right
        fixed = cloud_config(
            BOOTH_CLOUD_ACCESS_KEY_ID=good_id, BOOTH_CLOUD_SECRET_ACCESS_KEY=good_secret
        )
        up = Uploader(fixed).start()
        try:
            assert cloud_events(ctrl, job_id, 10) is not None
        finally:
            up.stop()
            ctrl.stop()
        assert len(s3.objects()) == 2


def test_retention_deletes_the_cloud_copies(cloud_config, s3, worker):
    cfg = cloud_config()
    cfg.trust_clock = True  # this VM's clock never says "synchronized": retention would wait
    ctrl = JobController(cfg).start()
    up = Uploader(cfg).start()
    try:
        assert poll(lambda: ctrl.mqtt.connected, 10)
        old, new = shoot(ctrl, worker), shoot(ctrl, worker)
        assert poll(lambda: len(s3.objects()) == 4, 10)
        ledger = Ledger(ledger_path(cfg.data_dir))
        try:
            # `new` is kept: move `old` back in time past retention_days (in wall and boot time)
            ledger._db.execute(
                "UPDATE jobs SET created_at = created_at - 8 * 86400, "
                "created_boot = created_boot - 8 * 86400 WHERE job_id = ?",
                (old,),
            )
            report = run_retention(cfg, ledger)
        finally:
            ledger.close()
        assert report.job_ids == [old]
        queue = Uploads(ledger_path(cfg.data_dir))
        try:
            new_keys = {queue.get(new).page_key, queue.get(new).photo_key}
            assert poll(lambda: queue.get(old) is None, 10)  # the row goes after the objects
        finally:
            queue.close()
        assert set(s3.objects()) == new_keys
        assert up.status.deleted == 1
    finally:
        up.stop()
        ctrl.stop()


def test_a_public_base_url_gives_a_short_link(cloud_config, s3, worker):
    s3.make_public()
    cfg = cloud_config(public_base_url=f"{s3.endpoint}/{s3.bucket}")
    ctrl = JobController(cfg).start()
    up = Uploader(cfg).start()
    try:
        assert poll(lambda: ctrl.mqtt.connected, 10)
        job_id = shoot(ctrl, worker)
        job = cloud_events(ctrl, job_id, 15)
        assert job is not None
        assert re.fullmatch(
            re.escape(f"{s3.endpoint}/{s3.bucket}/{PREFIX}") + r"[A-Za-z0-9_-]{22}", job.cloud_url
        )
        status, _h, page = fetch(job.cloud_url)
        assert status == 200 and f'src="{job.cloud_url}.jpg"' in page.decode()
        assert fetch(job.cloud_url + ".jpg")[2] == job.result_path.read_bytes()
        # public: the link works until retention deletes the objects
        assert abs(job.cloud_expires_at - (job.created_at + cfg.retention_days * 86400)) < 1
        assert len(qr_matrix(job.cloud_url)) < len(
            qr_matrix(job.cloud_url + "?X-Amz-Algorithm=AWS4-HMAC-SHA256")
        )
    finally:
        up.stop()
        ctrl.stop()


def test_the_phone_page_says_truthfully_how_long_each_link_works():
    from booth.texts import Texts
    from share import pages

    t = Texts("en")
    lan = pages.photo_page(t, "Party", "t" * 32, "drip.jpg", 7, "n")
    assert "only on the booth's Wi-Fi" in lan and "save the photo now" in lan
    soon = time.time() + 3600
    cloud = pages.cloud_page(t, "Party", "https://x.example/k.jpg", "drip.jpg", soon, "n")
    assert "on any network until " + pages.until_text(t, soon) in cloud
    assert time.strftime("%H:%M", time.localtime(soon)) in cloud  # less than 2 days: the time
    assert 'http-equiv="Content-Security-Policy"' in cloud and "frame-ancestors" not in cloud
    later = time.time() + 5 * 86400
    assert time.strftime("%H:%M", time.localtime(later)) not in pages.until_text(t, later)


def test_no_cloud_config_means_no_queue_and_lan_links(make_config, worker):
    """Off by default: the kiosk never opens the queue and shows the LAN link."""
    from tests.kiosk.helpers import kiosk_toml

    cfg = make_config(kiosk_toml(), **CREDS)
    assert cfg.cloud.enabled is False
    ctrl = JobController(cfg).start()
    try:
        assert ctrl.uploads is None
        assert poll(lambda: ctrl.mqtt.connected, 10)
        view = ctrl.view(shoot(ctrl, worker))
        assert view.link_kind == "lan" and view.link == view.share_url
    finally:
        ctrl.stop()


def test_the_operator_deletes_a_photo_and_its_cloud_copies_go(cloud_config, s3, worker):
    """Delete on the dashboard: the files and the row at once, the bucket's copies within
    seconds (the uploader is woken); the dashboard counts the uploads waiting."""
    import json
    from urllib.parse import urlencode

    from share.admin import make_admin_app

    cfg = cloud_config(BOOTH_ADMIN_PASSWORD="pw")
    ctrl = JobController(cfg).start()
    up = Uploader(cfg).start()
    ledger = Ledger(ledger_path(cfg.data_dir))
    guests = make_app(cfg, ledger=ledger)
    admin = ServerThread(make_admin_app(guests, uploader=up)).start()
    try:
        assert poll(lambda: ctrl.mqtt.connected, 10)
        gone, kept = shoot(ctrl, worker), shoot(ctrl, worker)
        assert poll(lambda: len(s3.objects()) == 4, 10)
        status, headers, _ = admin.request(
            "POST",
            "/admin/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"password": "pw"}).encode(),
        )
        cookie = {"Cookie": headers["set-cookie"].split(";", 1)[0]}
        state = json.loads(admin.request("GET", "/admin/api/state", cookie)[2])
        assert state["event"]["uploads_pending"] == 0
        assert {j["link_kind"] for j in state["jobs"]} == {"cloud"}  # as the booth screen shows
        keep_keys = {up.queue.get(kept).page_key, up.queue.get(kept).photo_key}
        assert admin.request("POST", f"/admin/api/jobs/{gone}/delete", cookie, b"")[0] == 200
        assert ledger.get(gone) is None
        assert poll(lambda: set(s3.objects()) == keep_keys, 10)
        assert poll(lambda: up.queue.get(gone) is None, 10)
    finally:
        admin.stop()
        ledger.close()
        up.stop()
        ctrl.stop()


def test_the_bucket_back_says_how_many_photos_were_waiting(cloud_config, s3, caplog):
    """A backlog of five queued while the bucket was unreachable: the line saying it works
    again counts all five (it once counted what was left after the first batch: 0, 2 or 3)."""
    cfg = cloud_config()
    s3.stop()
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        jobs = [add_job(cfg, ledger).job_id for _ in range(5)]
    finally:
        ledger.close()
    queue = Uploads(ledger_path(cfg.data_dir))
    with caplog.at_level(logging.INFO, logger="share.uploader"):
        up = Uploader(cfg).start()
        try:
            # the outage noticed (the uploader retries the newest first: the oldest of the five
            # may not have had a try of its own yet, and need not)
            assert poll(lambda: up.status.state == "offline", 15), up.status
            assert all(queue.get(j) is not None for j in jobs)
            s3.start()
            assert poll(lambda: queue.counts() == {"uploaded": 5}, 20), queue.counts()
        finally:
            up.stop()
            queue.close()
    said = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
    assert said == ["cloud: the bucket works again; uploading the 5 queued photo(s)"], said
