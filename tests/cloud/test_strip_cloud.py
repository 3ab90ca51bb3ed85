"""A strip session's cloud page offers what its LAN page does: the sheet, each frame with its
own download, and the strip clip once it has followed. The frames are uploaded as photos of their
own; the sheet's page links their objects, and is put again when a frame is confirmed after it
(share/uploader.py). The session is made the way the kiosk makes it
(tests/share/test_strip_share.py make_session); the clip maker's part is played by writing what it
records (tests/cloud/helpers.py made_clip)."""

from __future__ import annotations

import html
import http.client
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from booth.config import Config
from jobstore.ledger import Ledger, ledger_path
from jobstore.uploads import Upload
from share.uploader import Uploader
from tests.cloud.helpers import clip_bytes, made_clip, wait_for
from tests.kiosk.helpers import kiosk_toml
from tests.share.helpers import Job
from tests.share.test_strip_share import Made, make_session
from tests.support.s3 import S3Base, cloud_toml


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=15) as resp:
        assert resp.status == 200, url
        data: bytes = resp.read()
        return data


def page_of(row: Upload) -> str:
    assert row.url is not None
    return fetch(row.url).decode()


def page_now(row: Upload) -> str:
    """The page for a test that waits on it: '' while it is being put again (s3rver answers
    a read of an object whose PUT is under way with a 500, or sends what has arrived so far)."""
    try:
        return page_of(row)
    except (urllib.error.HTTPError, http.client.IncompleteRead, ConnectionError):
        return ""


def frames_now(row: Upload) -> int:
    return len(frame_links(page_now(row)))


def frame_links(page: str) -> list[tuple[str, str, str, str]]:
    """(img src, its width, download href, download name) of each frame on a page."""
    found = re.findall(
        r'<figure><img class="photo" src="([^"]*)" width="(\d+)"[^>]*>'
        r'<a class="btn secondary" href="([^"]*)" download="([^"]*)"',
        page,
    )
    return [(html.unescape(s), w, html.unescape(h), html.unescape(n)) for s, w, h, n in found]


@dataclass
class Rig:
    cfg: Config
    ledger: Ledger
    uploader: Uploader | None = None

    def start(self) -> Uploader:
        self.uploader = Uploader(self.cfg).start()
        return self.uploader

    def row(self, job_id: str) -> Upload | None:
        assert self.uploader is not None
        return self.uploader.queue.get(job_id)

    def uploaded(self, job_id: str, timeout: float = 30) -> Upload:
        def done() -> bool:
            row = self.row(job_id)
            return row is not None and row.state == "uploaded"

        assert wait_for(done, timeout), self.row(job_id)
        row = self.row(job_id)
        assert row is not None
        return row


@pytest.fixture
def rig(make_config: Callable[..., Config], s3: S3Base) -> Iterator[Rig]:
    cfg = make_config(kiosk_toml() + "\n" + cloud_toml(s3), **s3.creds)
    r = Rig(cfg, Ledger(ledger_path(cfg.data_dir)))
    yield r
    if r.uploader is not None:
        r.uploader.stop()
    r.ledger.close()


def result_of(rig: Rig, job_id: str) -> Path:
    row = rig.ledger.get(job_id)
    assert row is not None and row.result_path
    return Path(rig.cfg.data_dir) / row.result_path


def check_frames(rig: Rig, made: Made, page: str) -> None:
    """Each frame on the sheet's cloud page, in shot order: its picture and its download are
    the frame's own object, byte for byte, under the frame's own download name."""
    links = frame_links(page)
    assert len(links) == len(made.frames), page
    for (src, width, href, name), job_id in zip(links, made.frames, strict=True):
        assert src == href and int(width) > 0
        assert fetch(src) == result_of(rig, job_id).read_bytes()
        frame = rig.row(job_id)
        assert frame is not None and urlsplit(src).path.endswith("/" + frame.photo_key)
        assert name.endswith(".jpg") and name.startswith("drip-")
    assert 'id="frames"' in page


def test_the_sheets_cloud_page_offers_each_frame_and_the_strip_clip(rig, s3):
    rig.start()
    made = make_session(rig.cfg, rig.ledger)
    sheet = rig.uploaded(made.session_id)
    for job_id in made.frames:
        rig.uploaded(job_id)
    # the frames are on the page the guest's QR leads to (put again if one came after it)
    assert wait_for(lambda: frames_now(sheet) == 4, 15), page_now(sheet)
    page = page_of(sheet)
    check_frames(rig, made, page)
    photo = re.search(r'<img id="photo" class="photo[^"]*" src="([^"]*)"', page)
    assert (
        photo
        and fetch(html.unescape(photo.group(1))) == result_of(rig, made.session_id).read_bytes()
    )
    assert "<video" not in page

    # the strip clip follows the sheet like any clip, and the page keeps its frames
    data = clip_bytes(300 * 1024)
    made_clip(
        rig.cfg,
        Job(made.session_id, made.sheet_token, 0.0, [], result_of(rig, made.session_id)),
        data,
    )
    clip_key = sheet.page_key + ".mp4"
    assert wait_for(lambda: clip_key in s3.objects(), 20), "the strip clip never reached the bucket"
    assert wait_for(lambda: "<video" in page_now(sheet), 10), "the page never got the clip"
    page = page_of(sheet)
    check_frames(rig, made, page)
    src = re.search(r'<video id="clip-video" class="photo" src="([^"]*)"', page)
    assert src and fetch(html.unescape(src.group(1))) == data
    # no frame waits for a clip of its own: their rows leave the clips' look at once
    for job_id in made.frames:
        assert wait_for(lambda j=job_id: rig.row(j).clip_state == "none", 10), rig.row(job_id)


def test_a_frame_confirmed_after_its_sheet_follows_it_to_the_page(rig):
    """Frame 3's picture cannot be read when the sheet goes up: the sheet is not held back (the
    guest's QR switches), its page has the other three; once frame 3 is up the page at the same
    link is put again with all four."""
    made = make_session(rig.cfg, rig.ledger)
    third = result_of(rig, made.frames[2])
    aside = third.with_name(third.name + ".aside")
    third.rename(aside)
    rig.start()
    sheet = rig.uploaded(made.session_id)
    for n in (0, 1, 3):
        rig.uploaded(made.frames[n])
    assert wait_for(lambda: frames_now(sheet) == 3, 15), page_now(sheet)
    assert rig.row(made.frames[2]).state == "queued"
    aside.rename(third)
    assert rig.uploader is not None
    rig.uploader.wake()
    rig.uploaded(made.frames[2])
    assert wait_for(lambda: frames_now(sheet) == 4, 15), page_now(sheet)
    check_frames(rig, made, page_of(sheet))
    assert rig.row(made.session_id).url == sheet.url  # the same link: the QR stays
