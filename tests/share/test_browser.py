"""The guest's page in headless Chromium at phone size: screenshot, then a real tap on Download.

The download is done by the browser itself (DevTools `Browser.setDownloadBehavior`), and the saved
file must be byte-identical to the stored result under the server's suggested name. A phone set to
German gets the page in German, and the Download button stays where it is while the photo is
still on its way (the browser holds the photo back: DevTools `Fetch`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time

import cv2
import numpy as np
import pytest

from tests.share.cdp import CHROMIUM, Chromium, files_in
from tests.share.helpers import PORTRAIT, add_job

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="chromium not installed (setup installs Debian's package)"
)


async def _phone_page(br: Chromium, *domains: str) -> str:
    """A new page sized like a phone, with Page (and `domains`) events enabled."""
    return await br.sized_page(domains=("Page", *domains))


async def _drive(url: str, profile, downloads, shot_path, share_shot) -> dict:
    async with Chromium(profile) as br:
        await br.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )
        s = await _phone_page(br, "Runtime", "Log")
        await br.send("Emulation.setTouchEmulationEnabled", {"enabled": True}, s)
        await br.send("Page.navigate", {"url": url}, s)
        await br.wait_event("Page.loadEventFired", session=s)
        img = await br.evaluate(
            s,
            "(async()=>{const i=document.getElementById('photo');"
            "await i.decode();return [i.complete,i.naturalWidth,"
            "i.getBoundingClientRect().width];})()",
        )
        info = await br.evaluate(
            s,
            """(()=>{
            const d=document.getElementById('download').getBoundingClientRect();
            const sh=document.getElementById('share');
            return {title: document.querySelector('h1').textContent,
                    btn: [d.x + d.width/2, d.y + d.height/2, d.width, d.height, d.bottom],
                    shareShown: getComputedStyle(sh).display !== 'none',
                    canShare: !!(navigator.share && navigator.canShare),
                    scrollW: document.documentElement.scrollWidth};})()""",
        )
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        shot_path.write_bytes(base64.b64decode(shot["data"]))
        await br.tap(s, "#download")
        begin = await br.wait_event("Browser.downloadWillBegin", 60)
        await br.wait_event("Browser.downloadProgress", 60, state="completed")
        errors = br.page_errors()
        return {
            "img": img,
            "info": info,
            "begin": begin,
            "errors": errors,
            "shared": await _share_flow(br, url, share_shot),
        }


# A phone's Web Share API, for a browser that has none: records what the page hands over.
_FAKE_SHARE = """
window.__shared = null;
Object.defineProperty(navigator, 'canShare', {configurable: true, value: function (d) {
  return !!(d && d.files && d.files.length === 1 && d.files[0] instanceof File); }});
Object.defineProperty(navigator, 'share', {configurable: true, value: function (d) {
  const f = d.files[0];
  return f.arrayBuffer().then(function (b) {
    const v = new Uint8Array(b);
    window.__shared = {name: f.name, type: f.type, size: f.size, head: [v[0], v[1], v[2]],
                       title: d.title};
  }); }});
"""


async def _share_flow(br: Chromium, url: str, shot_path) -> dict:
    """Where sharing files is supported the Share button appears and hands over the photo."""
    s = await _phone_page(br)
    await br.send("Page.addScriptToEvaluateOnNewDocument", {"source": _FAKE_SHARE}, s)
    await br.send("Page.navigate", {"url": url}, s)
    await br.wait_event("Page.loadEventFired", session=s)
    await br.poll(s, "getComputedStyle(document.getElementById('share')).display !== 'none'")
    shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
    shot_path.write_bytes(base64.b64decode(shot["data"]))
    await br.tap(s, "#share")
    return await br.poll(s, "window.__shared")


async def _while_the_photo_is_on_its_way(url: str, profile, shots) -> dict:
    """A phone set to Swiss German opens the page; the photo is held back until the page has
    been painted, then let through. Where is the Download button before and after?"""
    async with Chromium(profile) as br:
        s = await _phone_page(br, "Runtime", "Log", "Network")
        agent = (await br.send("Browser.getVersion"))["userAgent"]
        await br.send(
            "Emulation.setUserAgentOverride",
            {"userAgent": agent, "acceptLanguage": "de-CH,de;q=0.9,en;q=0.8"},
            s,
        )
        await br.send("Fetch.enable", {"patterns": [{"urlPattern": "*/photo.jpg*"}]}, s)
        await br.send("Page.navigate", {"url": url}, s)
        held = await br.wait_event("Fetch.requestPaused", session=s)
        where = (
            "(() => {const d = document.getElementById('download');"
            "return d ? d.getBoundingClientRect().top : null;})()"
        )
        await br.poll(s, f"{where} !== null")
        await br.evaluate(s, "new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
        before = await br.evaluate(s, where)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        shots[0].write_bytes(base64.b64decode(shot["data"]))
        await br.send("Fetch.continueRequest", {"requestId": held["requestId"]}, s)
        await br.send("Fetch.disable", {}, s)
        await br.poll(
            s,
            "document.getElementById('photo').complete && "
            "document.getElementById('photo').naturalWidth > 0",
        )
        await br.wait_event("Page.loadEventFired", session=s)
        page = await br.evaluate(
            s,
            """({lang: document.documentElement.lang,
                download: document.getElementById('download').textContent.trim(),
                howto: document.getElementById('howto').textContent,
                photo: [document.getElementById('photo').naturalWidth,
                        document.getElementById('photo').naturalHeight]})""",
        )
        page["before"], page["after"] = before, await br.evaluate(s, where)
        shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
        shots[1].write_bytes(base64.b64decode(shot["data"]))
        page["errors"] = br.page_errors()
        return page


def test_a_german_phone_and_a_late_photo(cfg, ledger, server, tmp_path, output_dir):
    """The phone's language, and nothing moves when the photo arrives (on slow booth Wi-Fi it
    comes seconds after the page: a button that jumps gets the wrong tap)."""
    from booth.texts import DE

    result = tmp_path / "result-480x640.jpg"
    image = cv2.imread(str(PORTRAIT))
    cv2.imwrite(str(result), cv2.resize(image, (480, 640)))  # a portrait photo, as most are
    job = add_job(cfg, ledger, result_src=result)
    shots = (
        output_dir / "share-page-de-loading-390x844.png",
        output_dir / "share-page-de-390x844.png",
    )
    page = asyncio.run(
        asyncio.wait_for(
            _while_the_photo_is_on_its_way(
                f"{server.base}/p/{job.token}", tmp_path / "profile", shots
            ),
            120,
        )
    )
    assert page["lang"] == "de"
    assert page["download"].endswith(DE["page_download"]) and page["howto"] == DE["page_howto"]
    assert page["photo"] == [480, 640]
    assert page["after"] > 400  # below the photo, as it should be ...
    assert abs(page["after"] - page["before"]) < 1, page  # ... from the first paint on
    assert page["errors"] == [], page["errors"]
    for shot in shots:
        assert cv2.imread(str(shot)).shape[:2] == (844, 390)


def test_page_in_headless_chromium_at_phone_size(cfg, ledger, server, tmp_path, output_dir):
    add_job(cfg, ledger)
    job = add_job(cfg, ledger)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shot = output_dir / "share-page-390x844.png"
    share_shot = output_dir / "share-page-with-share-button-390x844.png"
    r = asyncio.run(
        asyncio.wait_for(
            _drive(
                f"{server.base}/p/{job.token}", tmp_path / "profile", downloads, shot, share_shot
            ),
            180,
        )
    )

    complete, natural_w, shown_w = r["img"]
    assert complete and natural_w == 512 and 300 <= shown_w <= 390
    info = r["info"]
    assert info["title"] == cfg.kiosk.title
    assert info["scrollW"] <= 390  # nothing wider than the phone
    _, _, btn_w, btn_h, btn_bottom = info["btn"]
    assert btn_w >= 300 and btn_h >= 48 and btn_bottom <= 844  # big, and above the fold
    assert info["shareShown"] == info["canShare"]  # Share only where the browser can share files
    # no script error, no CSP violation, no failed request
    assert r["errors"] == [], [(e["params"].get("entry") or e["params"]) for e in r["errors"]]

    png = cv2.imread(str(shot))
    assert png is not None and png.shape[:2] == (844, 390)
    assert float(np.std(png)) > 20  # a real picture, not a blank page

    day = time.strftime("%Y-%m-%d", time.localtime(job.created_at))
    assert r["begin"]["suggestedFilename"] == f"drip-{day}-0002.jpg"
    saved = files_in(downloads)
    assert [p.name for p in saved] == [f"drip-{day}-0002.jpg"]
    assert saved[0].read_bytes() == job.result.read_bytes()

    shared = r["shared"]
    assert shared["name"] == f"drip-{day}-0002.jpg" and shared["type"] == "image/jpeg"
    assert shared["size"] == job.result.stat().st_size and shared["head"] == [0xFF, 0xD8, 0xFF]
    assert shared["title"] == cfg.kiosk.title
    assert cv2.imread(str(share_shot)).shape[:2] == (844, 390)


async def _screens(base: str, admin_base: str, password: str, profile, out) -> dict:
    async with Chromium(profile) as br:
        results = {}
        # the operator logs in once through the form; the session cookie does the rest
        s = await br.new_page()
        await br.send("Page.enable", {}, s)
        await br.send("Page.navigate", {"url": admin_base + "/admin"}, s)
        await br.wait_event("Page.loadEventFired", session=s)
        assert await br.evaluate(s, "location.pathname") == "/admin/login"
        await br.evaluate(
            s,
            f"document.getElementById('password').value = {password!r};document.forms[0].submit()",
        )
        await br.poll(s, "location.pathname === '/admin' && document.readyState === 'complete'")
        for name, url, width, height in (
            ("share-404-390x844.png", base + "/p/no-such-photo-token", 390, 844),
            ("share-login-390x844.png", admin_base + "/admin/login?shot", 390, 844),
        ):
            # (the dashboard itself: tests/share/test_dashboard_browser.py)
            if name.startswith("share-login"):  # a fresh profile-less look at the form
                await br.send("Network.enable", {}, s)
                await br.send("Network.clearBrowserCookies", {}, s)
            s = await br.sized_page(width, height, ("Page", "Network"))
            await br.send("Page.navigate", {"url": url}, s)
            await br.wait_event("Page.loadEventFired", session=s)
            # every thumbnail on the page decoded (lazy images are in view: few rows)
            await br.poll(
                s,
                "Array.from(document.images).filter(i=>i.classList.contains('thumb'))"
                ".every(i=>i.complete && i.naturalWidth>0)",
            )
            results[name] = await br.evaluate(
                s,
                """({text: document.body.innerText,
                thumbs: Array.from(document.images).filter(i=>i.classList.contains('thumb'))
                        .map(i=>i.naturalWidth),
                scrollW: document.documentElement.scrollWidth})""",
            )
            shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
            (out / name).write_bytes(base64.b64decode(shot["data"]))
        return results


def test_not_found_and_admin_pages_in_chromium(share_cfg, tmp_path, output_dir):
    from booth.protocol import ErrorKind, JobError, JobStatus, Status
    from jobstore.ledger import Ledger, ledger_path
    from share.admin import make_admin_app
    from share.server import make_app
    from tests.share.helpers import ServerThread

    cfg = share_cfg('[kiosk]\ntitle = "Drip Me Out · Ana & Ben"\n', BOOTH_ADMIN_PASSWORD="pw")
    ledger = Ledger(ledger_path(cfg.data_dir))
    admin_srv = None
    try:
        guests = make_app(cfg, ledger=ledger)
        srv = ServerThread(guests).start()
        admin_srv = ServerThread(make_admin_app(guests)).start()
        cfg.share.public_url = srv.base
        now = time.time()
        add_job(cfg, ledger, created_at=now - 120)
        add_job(cfg, ledger, created_at=now - 60)
        add_job(cfg, ledger, status=JobStatus.PROCESSING, with_result=False)
        failed = add_job(cfg, ledger, status=JobStatus.PENDING)
        ledger.apply_status(
            Status(
                job_id=failed.job_id,
                booth_id=cfg.booth_id,
                status=JobStatus.FAILED,
                error=JobError.for_guest(ErrorKind.BAD_INPUT),
            )
        )
        r = asyncio.run(
            asyncio.wait_for(
                _screens(srv.base, admin_srv.base, "pw", tmp_path / "profile", output_dir), 180
            )
        )
    finally:
        if admin_srv is not None:
            admin_srv.stop()
        srv.stop()
        ledger.close()
    assert "can't find that photo" in r["share-404-390x844.png"]["text"]
    assert "Operator password" in r["share-login-390x844.png"]["text"]
    assert r["share-login-390x844.png"]["scrollW"] <= 390
    for name in r:
        assert cv2.imread(str(output_dir / name)) is not None
