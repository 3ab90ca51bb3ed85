"""The reveal clip's cloud copy: a clip made after its photo was uploaded follows it to the
bucket, and the cloud page is put again with it (playing inline, Download clip), like the LAN
page. The clip maker's part (share/clipmaker.py) is played by writing what it records
(tests/cloud/helpers.py made_clip): the clip itself is share/clips.py's, tested in
tests/share/test_clips.py."""

from __future__ import annotations

import html
import logging
import re
import sqlite3
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest

import share.uploader
from booth.config import Config
from jobstore.ledger import Ledger, ledger_path
from jobstore.retention import run_retention
from jobstore.schema import MIGRATIONS, _v8_upload_clips
from jobstore.uploads import Upload, Uploads
from share.uploader import Uploader
from tests.cloud.helpers import clip_bytes, failed_clip, made_clip, noise_jpeg, wait_for
from tests.kiosk.helpers import kiosk_toml
from tests.share.helpers import Job, ServerThread, add_job
from tests.support.s3 import S3Base, cloud_toml
from tests.support.throttle import ThrottledProxy


def fetch(url: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=15) as resp:
        assert resp.status == 200, url
        return {k.lower(): v for k, v in resp.headers.items()}, resp.read()


def page_of(row: Upload) -> str:
    """The cloud page as a phone gets it through the guest's link."""
    assert row.url is not None
    return fetch(row.url)[1].decode()


def attr(page: str, element_id: str, name: str) -> str | None:
    """An attribute of the element with this id, unescaped, or None."""
    m = re.search(rf'<[a-z]+ id="{element_id}"[^>]*?\s{name}="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else None


@dataclass
class Rig:
    cfg: Config
    ledger: Ledger
    uploader: Uploader

    @property
    def queue(self) -> Uploads:
        return self.uploader.queue

    def row(self, job: Job) -> Upload:
        row = self.queue.get(job.job_id)
        assert row is not None
        return row

    def uploaded(self, job: Job, timeout: float = 20) -> Upload:
        def done() -> bool:
            row = self.queue.get(job.job_id)
            return row is not None and row.state == "uploaded"

        assert wait_for(done, timeout), self.queue.get(job.job_id)
        return self.row(job)

    def clip_done(self, job: Job, timeout: float = 20) -> Upload:
        """The row once its clip's upload ended one way or another."""
        assert wait_for(lambda: self.row(job).clip_state is not None, timeout), self.row(job)
        return self.row(job)


@pytest.fixture
def rig(make_config: Callable[..., Config], s3: S3Base) -> Iterator[Callable[..., Rig]]:
    """rig(public=False, endpoint="", **env): a ledger as the kiosk writes it and the share
    process's uploader, on the test's S3 server (or a proxy before it)."""
    made: list[Rig] = []

    def _make(public: bool = False, endpoint: str = "", **env: str) -> Rig:
        base = ""
        if public:
            s3.make_public()
            base = f"{s3.endpoint}/{s3.bucket}"
        toml = kiosk_toml() + "\n" + cloud_toml(s3, public_base_url=base, endpoint=endpoint)
        cfg = make_config(toml, **{**s3.creds, **env})
        r = Rig(cfg, Ledger(ledger_path(cfg.data_dir)), Uploader(cfg).start())
        made.append(r)
        return r

    yield _make
    for r in made:
        r.uploader.stop()
        r.ledger.close()


@pytest.mark.parametrize("public", [False, True], ids=["presigned", "public"])
def test_a_clip_made_after_the_upload_follows_it_and_the_page_offers_it(rig, s3, public):
    """The photo goes up without waiting for a clip; the clip, made seconds later, goes to
    `page key + .mp4`, and the page at the same link is put again with it: its <video> and
    its Download clip both lead to the clip, byte for byte, and the photo is still there."""
    r = rig(public)
    job = add_job(r.cfg, r.ledger)
    row = r.uploaded(job)
    assert set(s3.objects()) == {row.page_key, row.photo_key}
    before = page_of(row)
    assert "<video" not in before and 'id="download-clip"' not in before

    data = clip_bytes(600 * 1024)
    clip_file = made_clip(r.cfg, job, data)  # the clip maker, after the upload
    clip_key = row.page_key + ".mp4"
    assert wait_for(lambda: clip_key in s3.objects(), 20), "the clip never reached the bucket"
    assert wait_for(lambda: "<video" in page_of(row), 10), "the page never got the clip"

    page = page_of(row)
    src, href = attr(page, "clip-video", "src"), attr(page, "download-clip", "href")
    assert src is not None and href is not None, page
    photo_name = attr(page, "download", "download")  # drip-2026-11-24-0042.jpg
    assert photo_name is not None and photo_name.endswith(".jpg")
    assert attr(page, "download-clip", "download") == photo_name.removesuffix(".jpg") + ".mp4"
    for url in (src, href):
        assert urlsplit(url).path.endswith("/" + clip_key), url
        headers, body = fetch(url)
        assert body == clip_file.read_bytes() == data
        assert headers["content-type"] == "video/mp4"
        assert headers["content-disposition"] == f'inline; filename="{photo_name[:-4]}.mp4"'
    assert 'width="1080" height="1920"' in page  # the clip's box, sized from the start
    assert attr(page, "clip-video", "poster") == attr(page, "photo", "src")
    photo_src = attr(page, "photo", "src")
    assert photo_src is not None and fetch(photo_src)[1] == job.result.read_bytes()
    # the same link, the same promise of how long it works
    assert re.search(r'id="lifetime"[^>]*>([^<]*)<', page).group(1) == (
        re.search(r'id="lifetime"[^>]*>([^<]*)<', before).group(1)
    )
    assert set(s3.objects()) == {row.page_key, row.photo_key, clip_key}
    done = r.row(job)
    assert done.url == row.url and done.clip_state == "uploaded" and done.clip_key == clip_key
    assert done.clip_uploaded_at is not None and row.uploaded_at is not None
    assert done.clip_uploaded_at > row.uploaded_at
    assert r.uploader.status.clips == 1


RATE = 64 * 1024  # bytes/s from the booth to the bucket, shared by every connection


def test_a_newer_photo_is_not_held_behind_a_clip(rig, s3, tmp_path):
    """A 768 KB clip takes 12 s up a 64 kB/s uplink shared by every connection. A photo stored
    while it goes up starts at once beside it, and its link comes while the clip is still on
    its way (the two share the uplink: nothing can cancel a PUT in flight)."""
    proxy = ThrottledProxy(s3.port, RATE, shared=True).start()
    try:
        r = rig(endpoint=proxy.endpoint)
        first = add_job(r.cfg, r.ledger)  # 68 KB: about 1 s
        row = r.uploaded(first)
        made_clip(r.cfg, first, clip_bytes(768 * 1024))
        clip_key = row.page_key + ".mp4"
        assert wait_for(lambda: proxy.started(clip_key), 20), "the clip never started"
        time.sleep(0.5)
        second = add_job(r.cfg, r.ledger, result_src=noise_jpeg(tmp_path / "r.jpg", 128 * 1024))
        stored = time.monotonic()
        newer = r.uploaded(second, 30)
        linked = time.monotonic()
        clip_then = r.row(first).clip_state
        started = proxy.started(newer.photo_key)
        assert started and started[0].at - stored < 1.0, "the photo waited for the clip"
        assert clip_then is None, f"the photo's link came after the clip ({linked - stored:.1f} s)"
        assert r.clip_done(first, 40).clip_state == "uploaded"  # and the clip still got there
    finally:
        proxy.stop()
    print(f"photo link {linked - stored:.1f} s after it was stored, beside the clip")


def test_clips_go_after_the_photos(rig, s3):
    """A backlog whose clips are all made already (the share process was down): every photo
    and its page go up first, newest first, and only then the clips, one at a time."""
    proxy = ThrottledProxy(s3.port, 50 * 1024 * 1024, shared=True).start()  # only to watch
    try:
        r = rig(endpoint=proxy.endpoint)
        r.uploader.stop()  # the backlog piles up first
        jobs = [add_job(r.cfg, r.ledger, created_at=time.time() - 60 + n) for n in range(3)]
        for n, job in enumerate(jobs):
            made_clip(r.cfg, job, clip_bytes(200 * 1024, seed=n))
        r.uploader = Uploader(r.cfg).start()
        rows = [r.clip_done(job, 30) for job in jobs]
    finally:
        proxy.stop()
    assert {row.clip_state for row in rows} == {"uploaded"}
    wall = time.time() - time.monotonic()  # the proxy notes monotonic times, the rows wall times
    photo_puts = [proxy.started(row.photo_key)[0].at + wall for row in rows]
    clip_puts = [proxy.started(row.page_key + ".mp4")[0].at + wall for row in rows]
    assert max(row.uploaded_at or 0 for row in rows) < min(clip_puts)  # every link was out
    assert max(photo_puts) < min(clip_puts)
    # newest first, like the photos, and one at a time: each after the one before was done
    assert clip_puts == sorted(clip_puts, reverse=True)
    order = sorted(range(3), key=lambda n: clip_puts[n])
    for before, after in zip(order, order[1:]):
        done = rows[before].clip_uploaded_at
        assert done is not None and done < clip_puts[after] + 0.05
    assert all(len(proxy.started(row.page_key + ".mp4")) == 1 for row in rows)


def test_retention_deletes_the_clip_with_the_photo_and_page(rig, s3):
    r = rig()
    r.cfg.trust_clock = True  # this VM's clock never says "synchronized": retention would wait
    old, new = add_job(r.cfg, r.ledger), add_job(r.cfg, r.ledger)
    for n, job in enumerate((old, new)):
        r.uploaded(job)
        made_clip(r.cfg, job, clip_bytes(100 * 1024, seed=n))
        assert r.clip_done(job).clip_state == "uploaded"
    keep = r.row(new).objects
    assert len(s3.objects()) == 6 and len(keep) == 3
    # `new` is kept: move `old` back in time past retention_days
    r.ledger._db.execute(
        "UPDATE jobs SET created_at = created_at - 8 * 86400 WHERE job_id = ?", (old.job_id,)
    )
    report = run_retention(r.cfg, r.ledger)
    assert report.job_ids == [old.job_id]
    r.uploader.wake()
    assert wait_for(lambda: r.queue.get(old.job_id) is None, 15)  # after its objects
    assert set(s3.objects()) == set(keep)


def test_the_operator_deletes_a_photo_and_its_clip_goes_too(rig, s3):
    from share.admin import make_admin_app
    from share.server import make_app

    r = rig(BOOTH_ADMIN_PASSWORD="pw")
    gone, kept = add_job(r.cfg, r.ledger), add_job(r.cfg, r.ledger)
    for n, job in enumerate((gone, kept)):
        r.uploaded(job)
        made_clip(r.cfg, job, clip_bytes(100 * 1024, seed=n))
        assert r.clip_done(job).clip_state == "uploaded"
    keep = r.row(kept).objects
    assert len(s3.objects()) == 6
    admin = ServerThread(make_admin_app(make_app(r.cfg, ledger=r.ledger), uploader=r.uploader))
    admin.start()
    try:
        status, headers, _ = admin.request(
            "POST",
            "/admin/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"password": "pw"}).encode(),
        )
        cookie = {"Cookie": headers["set-cookie"].split(";", 1)[0]}
        path = f"/admin/api/jobs/{gone.job_id}/delete"
        assert admin.request("POST", path, cookie, b"")[0] == 200
        assert wait_for(lambda: set(s3.objects()) == set(keep), 15), s3.objects()
        assert wait_for(lambda: r.queue.get(gone.job_id) is None, 10)
    finally:
        admin.stop()


def test_a_clip_that_failed_or_never_came_leaves_the_page_photo_only(rig, s3):
    """The clip maker gave up on one result's clip; another result was shot too long ago for
    a clip to come (the clip maker starts none for it). Both pages stay photo-only, nothing is
    tried for them, and they leave the index of rows waiting for a clip."""
    r = rig()
    failed = add_job(r.cfg, r.ledger)
    failed_clip(r.cfg, failed, "the picture cannot be decoded")
    old = add_job(r.cfg, r.ledger, created_at=time.time() - 2 * 3600)
    for job in (failed, old):
        r.uploaded(job)
    rows = [r.clip_done(job, 15) for job in (failed, old)]
    assert [row.clip_state for row in rows] == ["none", "none"]
    assert rows[0].clip_error == "the clip maker made none: the picture cannot be decoded"
    assert rows[1].clip_error == "no clip was made"
    assert all(row.clip_key is None and row.clip_attempts == 0 for row in rows)
    assert sorted(s3.objects()) == sorted(k for row in rows for k in (row.page_key, row.photo_key))
    for row in rows:
        page = page_of(row)
        assert "<video" not in page and 'id="download-clip"' not in page
        assert attr(page, "photo", "src")
    assert r.queue.due_clips(time.time() + 3600, 10) == []


@pytest.mark.s3("moto")  # how the uploader gives up, not what the server does
def test_a_clip_that_cannot_be_uploaded_is_given_up_and_never_holds_the_photos(
    rig, s3, monkeypatch, caplog
):
    """A made clip whose file is gone: each try fails, waits longer, and after CLIP_ATTEMPTS
    the clip is given up with one warning; its page stays photo-only, and the photos' queue
    was never paused (a photo stored meanwhile goes up as usual)."""
    monkeypatch.setattr(share.uploader, "CLIP_ATTEMPTS", 3)  # 1 s, then 2 s (retry_max_s = 1)
    with caplog.at_level(logging.INFO, logger="share.uploader"):
        r = rig()
        job = add_job(r.cfg, r.ledger)
        r.uploaded(job)
        made_clip(r.cfg, job, clip_bytes(50 * 1024)).unlink()
        assert wait_for(lambda: r.row(job).clip_attempts >= 1, 15)
        later = add_job(r.cfg, r.ledger)
        r.uploaded(later, 10)
        row = r.clip_done(job, 20)
    assert row.clip_state == "failed" and row.clip_attempts == 3, row
    assert row.clip_error is not None and row.clip_error.startswith("clip unreadable")
    assert r.uploader.status.state == "online" and r.uploader.status.failures == 0
    assert row.clip_key is None  # no PUT was ever begun: the file could not be read
    assert sorted(s3.objects()) == sorted([row.page_key, row.photo_key, *r.row(later).objects])
    assert "<video" not in page_of(row)
    gave_up = [m for m in caplog.messages if "its clip could not be uploaded" in m]
    assert len(gave_up) == 1 and "tried 3×" in gave_up[0], caplog.text
    time.sleep(1.5)  # nothing more is tried
    assert r.row(job).clip_attempts == 3


def test_an_older_ledger_gets_the_clip_columns_and_its_uploads_keep_their_links(tmp_path):
    """A ledger from before the clips' cloud copy (schema version 7) with an uploaded row: it
    is upgraded in place, the row keeps its link, and its clip may still follow. The look for
    due clips reads only the rows that wait for one (the partial index)."""
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(str(path), isolation_level=None)
    before = MIGRATIONS.index(_v8_upload_clips)
    for step in MIGRATIONS[:before]:
        step(db)
    db.execute(f"PRAGMA user_version = {before}")
    db.execute(
        "INSERT INTO uploads (job_id, page_key, photo_key, state, next_try_at, queued_at,"
        " uploaded_at, url, url_expires_at) VALUES ('j1', 'booth/k', 'booth/k.jpg', 'uploaded',"
        " 0, 1, 2, 'https://x.example/booth/k', 99)"
    )
    db.close()
    queue = Uploads(path)
    try:
        row = queue.get("j1")
        assert row is not None and row.url == "https://x.example/booth/k"
        assert (row.clip_state, row.clip_key, row.clip_attempts) == (None, None, 0)
        assert row.objects == ["booth/k.jpg", "booth/k"]
        assert queue.link("j1") is not None
        plan = " ".join(
            str(r[3])
            for r in queue._db.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM uploads INDEXED BY uploads_clip_wait"
                " WHERE state = 'uploaded' AND clip_state IS NULL AND clip_next_try_at <= 1"
            )
        )
        assert "uploads_clip_wait" in plan
        assert queue.due_clips(time.time(), 5) == []  # j1 has no job and no clip
    finally:
        queue.close()
