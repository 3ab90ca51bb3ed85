"""A strip session's page in headless Chromium at phone size (390×844): the sheet, its clip and
every frame load, nothing moves while the frames arrive (they are held back: DevTools `Fetch`),
no sideways scrolling, no console errors; screenshots tests/output/share-strip-*-390x844.png."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from share import h264
from share.clipmaker import ClipMaker
from tests.share.cdp import CHROMIUM, Chromium
from tests.share.test_strip_share import make_session

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="chromium not installed (setup installs it)"
)

_FOOTER = "document.querySelector('footer').getBoundingClientRect().top + window.scrollY"


def _paused(br: Chromium, session: str) -> list[dict]:
    return [
        e["params"]
        for e in br.events
        if e.get("sessionId") == session and e.get("method") == "Fetch.requestPaused"
    ]


async def _open(url: str, profile, out) -> dict:
    async with Chromium(profile) as br:
        s = await br.sized_page(count_shifts=True)
        # the frames' pictures held back until the page has been laid out without them
        await br.send("Fetch.enable", {"patterns": [{"urlPattern": "*/photo.jpg"}]}, s)
        await br.send("Page.navigate", {"url": url}, s)
        await br.wait_event("Fetch.requestPaused", session=s)
        await br.poll(s, "document.readyState !== 'loading'")
        footer_before = await br.evaluate(s, _FOOTER)
        for ev in _paused(br, s):  # what was held: let it through, then stop holding
            await br.send("Fetch.continueRequest", {"requestId": ev["requestId"]}, s)
        await br.send("Fetch.disable", {}, s)
        # the frames load lazily: scrolled to, they come
        await br.evaluate(s, "document.getElementById('frames').scrollIntoView()")
        await br.poll(
            s,
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
            60,
        )
        await br.evaluate(s, "window.scrollTo(0, 0)")
        await br.evaluate(s, "new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")
        state = await br.evaluate(
            s,
            f"""(() => ({{footer: {_FOOTER}, shifts: window.__shifts,
              frames: document.querySelectorAll('#frames img').length,
              downloads: document.querySelectorAll('#frames a[download]').length,
              video: !!document.getElementById('clip-video'),
              scrollW: document.documentElement.scrollWidth}}))()""",
        )
        state["footer_before"] = footer_before
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        out[0].write_bytes(base64.b64decode(shot["data"]))
        await br.evaluate(s, "document.getElementById('frames').scrollIntoView()")
        await br.evaluate(s, "new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        out[1].write_bytes(base64.b64decode(shot["data"]))
        state["errors"] = br.page_errors()
        return state


def test_the_sessions_page_on_a_phone(cfg, ledger, server, tmp_path, output_dir):
    made = make_session(cfg, ledger)
    if h264.available():
        maker = ClipMaker(cfg)
        try:
            assert maker.run_once() == 1
        finally:
            maker.stop()
    out = [output_dir / "share-strip-390x844.png", output_dir / "share-strip-frames-390x844.png"]
    state = asyncio.run(_open(f"{server.base}/p/{made.sheet_token}", tmp_path / "chromium", out))
    assert state["frames"] == 4 and state["downloads"] == 4
    assert state["video"] == h264.available()
    assert state["footer"] == state["footer_before"]  # nothing moved when the pictures came
    assert state["shifts"] < 0.01, state
    assert state["scrollW"] <= 390
    assert not state["errors"], state["errors"]
