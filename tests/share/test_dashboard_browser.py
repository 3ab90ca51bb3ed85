"""The operator's dashboard in headless Chromium, at 1280×800 and at phone size (390×844): after a
known set of jobs every count on the page is the event's, the health header shows each part in
its colour with its reason, and a QR the operator opened stays open — and readable — while the
page updates itself around it (new photos arrive, a part's health changes). Thumbnails have
their box before their picture arrives, so the cards below never move."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import cv2
import numpy as np
import pytest

from booth.protocol import AiState, Health
from jobstore.ledger import Ledger, ledger_path
from jobstore.links import qr_link
from share.admin import make_admin_app
from share.health import board_for
from share.server import make_app
from tests.share.cdp import CHROMIUM, Chromium
from tests.share.helpers import ServerThread
from tests.share.test_dashboard import known_event, make_job
from tests.support.phonecam import decode_screenshot
from worker.health import worker_health

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="chromium not installed (setup installs Debian's package)"
)

COUNTS = ("photos", "ai", "local", "failed", "in_progress")


async def _login(br: Chromium, base: str, width: int, height: int, hold: str | None = None) -> str:
    """A page at that size, logged in, with the dashboard's first data shown; `hold`: a URL
    pattern whose requests the browser holds back (DevTools Fetch) until the test lets them."""
    s = await br.sized_page(width, height)
    if hold:
        await br.send("Fetch.enable", {"patterns": [{"urlPattern": hold}]}, s)
    await br.send("Page.navigate", {"url": base + "/admin"}, s)
    where = await br.poll(s, "document.readyState === 'complete' && location.pathname")
    if where == "/admin/login":  # (the second page shares the first one's session cookie)
        await br.evaluate(
            s, "document.getElementById('password').value = 'pw'; document.forms[0].submit()"
        )
    await br.poll(
        s,
        "location.pathname === '/admin' && +(document.body.getAttribute('data-updates') || 0) >= 1",
        30,
    )
    return s


async def _shot(br: Chromium, s: str, path) -> np.ndarray:
    shot = await br.send("Page.captureScreenshot", {"format": "png"}, s)
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the screenshot is not a PNG"
    return image


def _counts_js() -> str:
    keys = ", ".join(repr(k) for k in COUNTS)
    return (
        f"(() => Object.fromEntries([{keys}].map(k => [k, document.querySelector("
        "'[data-count=\"' + k + '\"] b').textContent])))()"
    )


async def _drive(base: str, profile, out, on_update) -> dict:
    found: dict = {}
    async with Chromium(profile, 1280, 800) as br:
        for w, h in ((1280, 800), (390, 844)):
            s = await _login(br, base, w, h)
            # (thumbnails load lazily: the ones in view)
            await br.poll(
                s,
                "document.querySelectorAll('#gallery .job').length >= 10 && "
                "[...document.querySelectorAll('#gallery img.thumb')].slice(0, 2)"
                ".every(i => i.complete && i.naturalWidth > 0)",
                30,
            )
            found[w] = {
                "counts": await br.evaluate(s, _counts_js()),
                "parts": await br.evaluate(
                    s,
                    "[...document.querySelectorAll('#health .part')]"
                    ".map(p => [p.id, p.getAttribute('data-level'), "
                    "p.textContent])",
                ),
                "kinds": await br.evaluate(
                    s,
                    "[...document.querySelectorAll('#kinds-body tr')]"
                    ".map(r => [r.getAttribute('data-kind'), "
                    "r.children[1].textContent, "
                    "r.children[2].textContent])",
                ),
                "scrollW": await br.evaluate(s, "document.documentElement.scrollWidth"),
                "cards": await br.evaluate(s, "document.querySelectorAll('#gallery .job').length"),
            }
            await _shot(br, s, out / f"share-dashboard-{w}x{h}.png")
        # at phone size: open a photo's QR, then let the page update around it
        first = await br.evaluate(
            s, "document.querySelector('#gallery .job[data-phase=ready]').getAttribute('data-id')"
        )
        await br.evaluate(
            s,
            f"document.querySelector('#job-{first} .qr-open').scrollIntoView({{block: 'center'}})",
        )
        await br.tap(s, f"#job-{first} .qr-open")
        await br.poll(
            s,
            "!document.getElementById('qr').classList.contains('hidden') && "
            "document.getElementById('qr-img').complete && "
            "document.getElementById('qr-img').naturalWidth > 0",
            15,
        )
        src = await br.evaluate(s, "document.getElementById('qr-img').getAttribute('src')")
        before = int(await br.evaluate(s, "document.body.getAttribute('data-updates')"))
        new_job = on_update()  # a new photo arrives and a worker's health changes
        await br.poll(
            s,
            f"!!document.getElementById('job-{new_job}') && "
            f"+document.body.getAttribute('data-updates') >= {before + 2}",
            30,
        )
        await br.poll(s, "document.querySelector('[data-level=error]') !== null", 15)
        found["after"] = {
            "open": await br.evaluate(
                s, "!document.getElementById('qr').classList.contains('hidden')"
            ),
            "src": await br.evaluate(s, "document.getElementById('qr-img').getAttribute('src')"),
            "loaded": await br.evaluate(s, "document.getElementById('qr-img').naturalWidth"),
            "updates": int(await br.evaluate(s, "document.body.getAttribute('data-updates')")),
            "photos": await br.evaluate(s, _counts_js()),
        }
        found["src"], found["before"], found["first"] = src, before, first
        found["errors"] = br.page_errors()
        found["qr_png"] = await _shot(br, s, out / "share-dashboard-qr-390x844.png")
    return found


def test_dashboard_in_chromium_counts_health_and_an_open_qr(share_cfg, tmp_path, output_dir):
    cfg = share_cfg('[kiosk]\ntitle = "Anna & Ben · Operator test"\n', BOOTH_ADMIN_PASSWORD="pw")
    ledger = Ledger(ledger_path(cfg.data_dir))
    board = board_for(cfg)
    servers = []
    try:
        guests = make_app(cfg, ledger=ledger)
        g = ServerThread(guests).start()
        servers.append(g)
        a = ServerThread(make_admin_app(guests, board=board)).start()
        servers.append(a)
        cfg.share.public_url = g.base
        known_event(cfg, ledger, time.time())
        # the parts as they would report themselves over MQTT
        board.feed("booth/testbooth/availability", b"online")
        board.feed(
            "booth/testbooth/health",
            Health(
                "warn",
                part="kiosk",
                id="testbooth",
                reason="the clock is not synchronized",
                fix="give the booth network time once",
                extra={"disk_free_mb": 20480},
            ).to_json(),
        )
        board.feed("booth/workers/w1/availability", b"online")
        board.feed(
            "booth/workers/w1/health",
            worker_health("w1", AiState.OK, "", None, 0, {"completed": 7}, None).to_json(),
        )
        board.feed("booth/testbooth/share/availability", b"online")
        board.feed(
            "booth/testbooth/share/health", Health("ok", part="share", id="testbooth").to_json()
        )

        def update() -> str:
            job = make_job(cfg, ledger, time.time())
            board.feed(
                "booth/workers/w1/health",
                worker_health(
                    "w1", AiState.KEY_REJECTED, "API key not valid", 300, 0, {}, None
                ).to_json(),
            )
            return job

        r = asyncio.run(
            asyncio.wait_for(_drive(a.base, tmp_path / "profile", output_dir, update), 240)
        )
        link = f"{cfg.share.public_url}/p/{ledger.get(r['first']).token}"
    finally:
        for srv in reversed(servers):
            srv.stop()
        ledger.close()
    expected = {"photos": "10", "ai": "4", "local": "3", "failed": "2", "in_progress": "1"}
    for width in (1280, 390):
        assert r[width]["counts"] == expected, width
        assert r[width]["cards"] == 10
        levels = {pid: level for pid, level, _text in r[width]["parts"]}
        assert levels == {
            "part-kiosk/testbooth": "warn",
            "part-worker/w1": "ok",
            "part-share/testbooth": "ok",
        }
        kiosk_text = next(t for pid, _lv, t in r[width]["parts"] if pid == "part-kiosk/testbooth")
        assert "clock is not synchronized" in kiosk_text and "Fix: give the booth" in kiosk_text
        assert sorted(r[width]["kinds"]) == [
            ["bad_input", "0", "1"],
            ["no_key", "1", "0"],
            ["quota", "1", "0"],
            ["safety", "0", "1"],
            ["unavailable", "1", "0"],
        ]
    assert r[390]["scrollW"] <= 390  # usable on the operator's phone
    after = r["after"]
    assert after["open"] and after["src"] == r["src"] and after["loaded"] > 0
    assert after["updates"] >= r["before"] + 2
    assert after["photos"]["photos"] == "11"  # the page did update underneath
    assert r["errors"] == [], r["errors"]  # no script exception or console error, all along
    # and the QR on the screen still reads as the photo's link
    assert decode_screenshot(r["qr_png"]) == {qr_link(link)}


_BOXES = """[...document.querySelectorAll('#gallery .job')].slice(0, 6).map(c => {
  const i = c.querySelector('img.thumb'), r = i.getBoundingClientRect();
  return {loaded: i.complete && i.naturalWidth > 0, w: r.width, h: r.height,
          card: c.getBoundingClientRect().top};})"""


async def _thumbnails_held_back(base: str, profile) -> dict:
    async with Chromium(profile) as br:
        s = await _login(br, base, 390, 844, hold="*thumb*")
        await br.wait_event("Fetch.requestPaused", session=s)
        found = {"held": await br.evaluate(s, _BOXES)}
        await br.send("Fetch.disable", {}, s)  # (lets every held request go)
        await br.poll(s, f"{_BOXES}.slice(0, 2).every(b => b.loaded)", 30)
        found["loaded"] = await br.evaluate(s, _BOXES)
        found["errors"] = br.page_errors()
        return found


def test_thumbnails_have_their_box_before_they_arrive(share_cfg, tmp_path):
    cfg = share_cfg("", BOOTH_ADMIN_PASSWORD="pw")
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        guests = make_app(cfg, ledger=ledger)
        a = ServerThread(make_admin_app(guests)).start()
        try:
            known_event(cfg, ledger, time.time())
            r = asyncio.run(
                asyncio.wait_for(_thumbnails_held_back(a.base, tmp_path / "profile"), 120)
            )
        finally:
            a.stop()
    finally:
        ledger.close()
    held, loaded = r["held"], r["loaded"]
    assert len(held) == 6 and not held[0]["loaded"]
    assert all((b["w"], b["h"]) == (96, 96) for b in held), held
    assert [b["card"] for b in loaded] == [b["card"] for b in held]  # nothing below moved
    assert r["errors"] == [], r["errors"]
