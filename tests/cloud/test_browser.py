"""The cloud copy of the phone page, opened from the S3 server in headless Chromium at 390×844:
screenshot, a real tap on Download saving the result file, and the iOS wording (Photos first)."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import cv2
import numpy as np
import pytest

from booth.config import load_config
from jobstore.ledger import Ledger, ledger_path
from jobstore.uploads import Uploads
from share import clips, h264
from share.uploader import Uploader
from tests.cloud.helpers import made_clip, wait_for
from tests.share.cdp import CHROMIUM, Chromium, files_in
from tests.share.helpers import add_job
from tests.share.test_clips import _pair
from tests.support.s3 import cloud_toml

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="chromium not installed (setup installs Debian's package)"
)

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

# A phone's Web Share API, for a browser that has none (as in tests/share/test_browser.py).
_FAKE_SHARE = """
Object.defineProperty(navigator, 'canShare', {configurable: true, value: function (d) {
  return !!(d && d.files && d.files.length === 1 && d.files[0] instanceof File); }});
Object.defineProperty(navigator, 'share', {configurable: true,
  value: function (d) { return Promise.resolve(); }});
"""

_STATE = """(()=>{const b=id=>document.getElementById(id);
  const order=Array.from(document.querySelectorAll('#download,#share')).map(e=>e.id);
  return {howto: b('howto').textContent, lifetime: b('lifetime').textContent,
          title: document.querySelector('h1').textContent, order: order,
          shareShown: getComputedStyle(b('share')).display !== 'none',
          sharePrimary: b('share').classList.contains('primary'),
          downloadText: b('download').textContent,
          imgW: b('photo').naturalWidth, scrollW: document.documentElement.scrollWidth};})()"""


async def _page(br: Chromium, url: str, *, ua: str = "", script: str = "") -> str:
    s = await br.sized_page()
    if ua:
        await br.send("Emulation.setUserAgentOverride", {"userAgent": ua, "platform": "iPhone"}, s)
    if script:
        await br.send("Page.addScriptToEvaluateOnNewDocument", {"source": script}, s)
    await br.send("Page.navigate", {"url": url}, s)
    await br.wait_event("Page.loadEventFired", session=s)
    await br.evaluate(s, "document.getElementById('photo').decode()")
    return s


async def _drive(url: str, profile, downloads, out) -> dict:
    async with Chromium(profile) as br:
        await br.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        s = await _page(br, url)
        plain = await br.evaluate(s, _STATE)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        (out / "cloud-page-390x844.png").write_bytes(base64.b64decode(shot["data"]))
        await br.tap(s, "#download")
        begin = await br.wait_event("Browser.downloadWillBegin", 60)
        await br.wait_event("Browser.downloadProgress", 60, state="completed")
        errors = br.page_errors()

        s = await _page(br, url, ua=IPHONE_UA)
        ios_hold = await br.evaluate(s, _STATE)
        s = await _page(br, url, ua=IPHONE_UA, script=_FAKE_SHARE)
        await br.poll(s, "getComputedStyle(document.getElementById('share')).display!=='none'")
        ios_share = await br.evaluate(s, _STATE)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        (out / "cloud-page-ios-share-390x844.png").write_bytes(base64.b64decode(shot["data"]))
        return {
            "plain": plain,
            "begin": begin,
            "errors": errors,
            "ios_hold": ios_hold,
            "ios_share": ios_share,
        }


def test_cloud_page_in_headless_chromium(tmp_path, s3, output_dir):
    toml = tmp_path / "booth.toml"
    toml.write_text(
        f'data_dir = "{tmp_path}/data"\n[kiosk]\ntitle = "Mia & Leo · 2026"\n' + cloud_toml(s3)
    )
    cfg = load_config(toml, env={**s3.creds, "BOOTH_ID": "testbooth"})
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger)
    ledger.close()
    up = Uploader(cfg).start()
    queue = Uploads(ledger_path(cfg.data_dir))
    try:
        end = time.monotonic() + 15
        row = queue.get(job.job_id)
        while time.monotonic() < end and not (row is not None and row.state == "uploaded"):
            time.sleep(0.05)
            row = queue.get(job.job_id)
        assert row is not None and row.state == "uploaded", row
        url = row.url
    finally:
        queue.close()
        up.stop()
    assert url and url.startswith(s3.endpoint)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    r = asyncio.run(asyncio.wait_for(_drive(url, tmp_path / "profile", downloads, output_dir), 180))

    plain = r["plain"]
    assert plain["title"] == "Mia & Leo · 2026" and plain["imgW"] == 512
    assert plain["howto"] == "Tap Download to save your photo."
    assert plain["lifetime"].startswith("This link works on any network until ")
    assert not plain["shareShown"]  # headless Chromium cannot share files: no dead button
    assert plain["scrollW"] <= 390
    assert r["errors"] == [], [(e["params"].get("entry") or e["params"]) for e in r["errors"]]
    day = time.strftime("%Y-%m-%d", time.localtime(job.created_at))
    assert r["begin"]["suggestedFilename"] == f"drip-{day}-0001.jpg"
    saved = files_in(downloads)
    assert [p.name for p in saved] == [f"drip-{day}-0001.jpg"]
    assert saved[0].read_bytes() == job.result.read_bytes()
    png = cv2.imread(str(output_dir / "cloud-page-390x844.png"))
    assert png.shape[:2] == (844, 390) and float(np.std(png)) > 20

    # iOS: a download lands in Files, so the main instruction is the one that reaches Photos
    hold = r["ios_hold"]
    assert hold["howto"] == "Press and hold the photo, then tap \u201cSave to Photos\u201d."
    assert "Download to Files" in hold["downloadText"] and not hold["shareShown"]
    share = r["ios_share"]
    assert share["howto"] == "Tap Share, then \u201cSave Image\u201d to put the photo in Photos."
    assert share["shareShown"] and share["sharePrimary"]
    assert share["order"] == ["share", "download"]  # Share first, Download below


_CLIP = """(() => {const v = document.getElementById('clip-video');
  return {t: v.currentTime, paused: v.paused, muted: v.muted, loop: v.loop,
          inline: v.playsInline, duration: v.duration, size: [v.videoWidth, v.videoHeight],
          src: v.currentSrc};})()"""


async def _clip(url: str, profile, downloads, out) -> dict:
    async with Chromium(profile) as br:
        await br.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        s = await _page(br, url)
        await br.evaluate(s, "document.getElementById('clip-video').scrollIntoView()")
        await br.poll(s, "document.getElementById('clip-video').currentTime > 0.3", 60)
        t0 = await br.evaluate(s, "document.getElementById('clip-video').currentTime")
        await br.evaluate(s, "new Promise(r => setTimeout(r, 800))")
        state = await br.evaluate(s, _CLIP)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        (out / "cloud-page-clip-390x844.png").write_bytes(base64.b64decode(shot["data"]))
        await br.tap(s, "#download-clip")
        begin = await br.wait_event("Browser.downloadWillBegin", 60)
        await br.wait_event("Browser.downloadProgress", 60, state="completed")
        return {"t0": t0, "state": state, "begin": begin, "errors": br.page_errors()}


@pytest.mark.skipif(not h264.available(), reason="no OpenH264 (setup installs it)")
def test_the_cloud_page_plays_the_clip_inline_and_downloads_it(tmp_path, s3, output_dir):
    """A real reveal clip, made after the photo went up, on the page opened from the bucket:
    it plays inline (muted, looping; the page's own Content-Security-Policy lets it, and no
    console error), and a tap on Download clip saves the clip under its name, byte for byte."""
    toml = tmp_path / "booth.toml"
    toml.write_text(f'data_dir = "{tmp_path}/data"\n' + cloud_toml(s3))
    cfg = load_config(toml, env={**s3.creds, "BOOTH_ID": "testbooth"})
    _shot, result = _pair(tmp_path, (480, 640))
    made = tmp_path / "clip.mp4"
    clips.make_clip(_shot, result, made, "Mia & Leo")
    ledger = Ledger(ledger_path(cfg.data_dir))
    job = add_job(cfg, ledger, result_src=result)
    ledger.close()
    up = Uploader(cfg).start()
    queue = Uploads(ledger_path(cfg.data_dir))
    try:

        def uploaded(what: str) -> bool:
            u = queue.get(job.job_id)
            return u is not None and getattr(u, what) == "uploaded"

        assert wait_for(lambda: uploaded("state"), 20)  # the photo, with no clip yet
        made_clip(cfg, job, made.read_bytes())  # the clip maker, seconds later
        assert wait_for(lambda: uploaded("clip_state"), 30)
        row = queue.get(job.job_id)
    finally:
        queue.close()
        up.stop()
    assert row is not None and row.url
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    r = asyncio.run(
        asyncio.wait_for(_clip(row.url, tmp_path / "profile", downloads, output_dir), 180)
    )
    st = r["state"]
    assert st["t"] > r["t0"] and not st["paused"], r  # it plays
    assert st["muted"] and st["loop"] and st["inline"], st
    assert st["duration"] == pytest.approx(3.6, abs=0.05) and st["size"] == [1080, 1920]
    assert st["src"].split("?")[0].endswith(row.page_key + ".mp4"), st["src"]
    assert r["errors"] == [], [(e["params"].get("entry") or e["params"]) for e in r["errors"]]
    day = time.strftime("%Y-%m-%d", time.localtime(job.created_at))
    assert r["begin"]["suggestedFilename"] == f"drip-{day}-0001.mp4"
    saved = files_in(downloads)
    assert [p.name for p in saved] == [f"drip-{day}-0001.mp4"]
    assert saved[0].read_bytes() == made.read_bytes()
