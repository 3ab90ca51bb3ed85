"""The reveal clip on the guest's page in headless Chromium at phone size (390×844): it plays
inline (its currentTime advances, muted, looping), nothing on the page moves while it loads
(the browser holds the clip back: DevTools `Fetch`), and no console errors."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest

from jobstore.clips import MADE, Clips
from jobstore.ledger import ledger_path
from share import h264
from tests.share.cdp import CHROMIUM, Chromium
from tests.share.helpers import add_job
from tests.share.test_clips import _pair

pytestmark = [
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="chromium not installed (setup installs it)"
    ),
    pytest.mark.skipif(not h264.available(), reason="no OpenH264 (setup installs it)"),
]

_WHERE = """(() => {const v = document.getElementById('clip-video');
  const d = document.getElementById('download-clip');
  const f = document.querySelector('footer');
  if (!v || !d) return null;
  const r = v.getBoundingClientRect();
  return {video: [r.top, r.width, r.height], button: d.getBoundingClientRect().top,
          footer: f.getBoundingClientRect().top};})()"""


async def _play(url: str, profile, shots) -> dict:
    async with Chromium(profile) as br:
        s = await br.sized_page(count_shifts=True)  # every layout shift from the first paint
        await br.send("Fetch.enable", {"patterns": [{"urlPattern": "*/clip.mp4*"}]}, s)
        await br.send("Page.navigate", {"url": url}, s)
        held = await br.wait_event("Fetch.requestPaused", session=s)
        await br.poll(s, f"{_WHERE} !== null")
        await br.evaluate(s, "document.getElementById('clip-video').scrollIntoView()")
        await br.evaluate(s, "new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
        before = await br.evaluate(s, _WHERE)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        shots[0].write_bytes(base64.b64decode(shot["data"]))
        await br.send("Fetch.continueRequest", {"requestId": held["requestId"]}, s)
        await br.send("Fetch.disable", {}, s)
        await br.poll(s, "document.getElementById('clip-video').currentTime > 0.3", 60)
        t0 = await br.evaluate(s, "document.getElementById('clip-video').currentTime")
        await br.evaluate(s, "new Promise(r => setTimeout(r, 800))")
        state = await br.evaluate(
            s,
            """(() => {const v = document.getElementById('clip-video');
              return {t: v.currentTime, paused: v.paused, muted: v.muted, loop: v.loop,
                      inline: v.playsInline, duration: v.duration,
                      size: [v.videoWidth, v.videoHeight], shifts: window.__shifts,
                      scrollW: document.documentElement.scrollWidth};})()""",
        )
        await br.poll(s, "document.getElementById('clip-video').currentTime < 1.0", 20)
        state["looped"] = True  # it came back to the start: the loop plays on
        after = await br.evaluate(s, _WHERE)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        shots[1].write_bytes(base64.b64decode(shot["data"]))
        return {
            "before": before,
            "after": after,
            "t0": t0,
            "state": state,
            "errors": br.page_errors(),
        }


def test_the_clip_plays_inline_on_a_phone_and_nothing_moves(
    cfg, ledger, serve, tmp_path, output_dir
):
    _shot, result = _pair(tmp_path, (480, 640))
    job = add_job(cfg, ledger, result_src=result)
    server = serve(cfg, ledger=ledger, make_clips=True)
    store = Clips(ledger_path(cfg.data_dir))
    try:
        deadline = time.monotonic() + 240
        while (c := store.get(job.job_id)) is None or c.state != MADE:
            assert time.monotonic() < deadline, c
            time.sleep(0.2)
    finally:
        store.close()
    shots = (
        output_dir / "share-clip-loading-390x844.png",
        output_dir / "share-clip-playing-390x844.png",
    )
    r = asyncio.run(
        asyncio.wait_for(_play(f"{server.base}/p/{job.token}", tmp_path / "profile", shots), 150)
    )
    st = r["state"]
    assert st["t"] > r["t0"] and not st["paused"], r  # it plays
    assert st["muted"] and st["loop"] and st["inline"], st
    assert st["duration"] == pytest.approx(3.6, abs=0.05) and st["size"] == [1080, 1920]
    assert st["scrollW"] <= 390  # no sideways scrolling on the phone
    before, after = r["before"], r["after"]
    width = before["video"][1]
    assert width > 300 and before["video"][2] == pytest.approx(width * 1920 / 1080, abs=1)
    assert before["button"] == pytest.approx(after["button"], abs=0.5), r  # nothing jumped
    assert before["footer"] == pytest.approx(after["footer"], abs=0.5), r
    assert st["shifts"] < 0.01, st
    assert r["errors"] == [], r["errors"]
