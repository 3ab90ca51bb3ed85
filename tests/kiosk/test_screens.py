"""The screens through a real session on the real broker: tap, countdown, flash, queued,
processing, the result with its QR (read back with OpenCV), the local fallback, every error, the
recent strip, the camera reconnecting; styles; the join-Wi-Fi code. Saved as
tests/output/screens/flow-<state>-<w>x<h>.png. Every screen at four sizes in four languages, with
its text measured, is tests/kiosk/test_type.py."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pygame
import pytest

from booth.protocol import ErrorKind, JobError
from jobstore.links import qr_link
from tests.kiosk.conftest import FakeClock
from tests.kiosk.gallery import STYLES
from tests.kiosk.helpers import SCREENS_OUT, poll

SIZES = [(800, 480), (720, 1280)]


class Wall:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def tick(app, clock, seconds: float) -> None:
    """Move the fake clock in small steps, letting real camera frames arrive in between (so the
    watchdog does not see a fake 3-second gap)."""
    end = clock.t + seconds
    while clock.t < end:
        clock.advance(min(0.25, end - clock.t))
        time.sleep(0.04)
        app.step()


def shoot(app, clock, worker) -> str:
    """Tap the shutter, run the countdown on the fake clock, wait for the job on the broker."""
    assert app.request_shot()
    tick(app, clock, app.cfg.kiosk.countdown_s + 0.01)
    assert app.screen.name == "flash"
    job_id = app.screen.job_id
    clock.advance(1)
    poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    assert job_id in worker.job_ids()
    return job_id


def save(app, name: str) -> None:
    w, h = app.layout.w, app.layout.h
    path = app.screenshot(SCREENS_OUT / f"flow-{name}-{w}x{h}.png")
    img = cv2.imread(str(path))
    assert img is not None and img.shape[:2] == (h, w)
    assert img.std() > 10, f"{name} looks blank"


def read_qr(bgr: np.ndarray) -> str:
    """OpenCV's QRCodeDetector, tried like a phone's camera sees a code (as is, smaller, slightly
    soft), then OpenCV's Aruco-based detector: the classic one misses ~4 % of pixel-perfect codes
    (checked: 8 of 200 random share URLs), which the variants read."""
    variants = [
        bgr,
        cv2.resize(bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        cv2.GaussianBlur(bgr, (3, 3), 0),
    ]
    for img in variants:
        text, _pts, _ = cv2.QRCodeDetector().detectAndDecode(img)
        if text:
            return text
    text, _pts, _ = cv2.QRCodeDetectorAruco().detectAndDecode(bgr)
    return text


def decode_qr(app) -> str:
    """Read the result screen's download QR: the code's area as a phone would frame it."""
    arr = pygame.surfarray.array3d(app.surface).swapaxes(0, 1)
    bgr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
    r = app.screen.qr_rect.inflate(40, 40).clip(app.surface.get_rect())
    return read_qr(np.ascontiguousarray(bgr[r.top : r.bottom, r.left : r.right])) or read_qr(bgr)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_screen(size, kiosk_config, make_app, worker):
    cfg = kiosk_config()
    clock, wall = FakeClock(), Wall()
    app = make_app(cfg, size, clock=clock, wall=wall)
    worker.availability(True)
    assert poll(lambda: app.camera.state == "live" and app.jobs.ai_online, 15, step=app.step)
    app.run_for(2)
    save(app, "attract")

    # countdown at "3", then "1"
    assert app.request_shot()
    app.run_for(2)
    assert app.screen.name == "countdown"
    save(app, "countdown")
    tick(app, clock, 2.3)
    save(app, "countdown-1")
    tick(app, clock, 0.71)
    assert app.screen.name == "flash"
    job_id = app.screen.job_id
    poll(lambda: app.images.get(("shot", job_id)) is not None, 10, step=app.step)
    clock.advance(0.25)  # mid-flash: the frozen shot shows through the fading white
    app.step()
    save(app, "flash")
    clock.advance(1)
    poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    app.step()
    assert app.screen.name == "processing" and app.screen.phase() == "queued"
    save(app, "queued")

    worker.status(job_id, "processing")
    assert poll(lambda: app.screen.phase() == "processing", 10, step=app.step)
    save(app, "processing")
    wall.offset = cfg.kiosk.slow_after_s + 3
    app.step()
    save(app, "processing-slow")
    wall.offset = 0

    worker.result(job_id)
    worker.status(job_id, "completed", effect="gemini")
    assert poll(
        lambda: app.screen.name == "result" and app.result_surface(job_id), 15, step=app.step
    )
    app.run_for(2)
    save(app, "result")
    job = app.job_views[job_id]
    assert job.share_url and job.share_url.startswith("http://booth.local:8080/p/")
    assert decode_qr(app) == qr_link(job.share_url) == "HTTP://BOOTH.LOCAL:8080/P/" + job.token
    assert app.screen.state()["code"] == job.code and len(job.code) == 6

    # the local-effect fallback: still a picture, with a gentle note
    job2 = shoot(app, clock, worker)
    worker.status(job2, "processing")
    worker.result(job2)
    worker.status(job2, "completed", effect="local", error=JobError.for_guest(ErrorKind.QUOTA))
    assert poll(
        lambda: (
            app.screen.name == "result" and app.screen.job_id == job2 and app.result_surface(job2)
        ),
        15,
        step=app.step,
    )
    app.run_for(2)
    save(app, "result-local")
    assert decode_qr(app) == qr_link(app.job_views[job2].share_url)
    assert app.screen.note(app.job_views[job2])

    # each error kind
    for kind in ErrorKind:
        app.go("attract")
        jid = shoot(app, clock, worker)
        worker.status(
            jid,
            "failed",
            error=JobError.for_guest(
                kind, retry_after_s=20 if kind is ErrorKind.RATE_LIMITED else None
            ),
        )
        assert poll(lambda: app.screen.name == "error", 15, step=app.step), kind
        assert app.screen.kind == kind.value
        app.run_for(2)
        save(app, f"error-{kind.value}")
    app.go("error", job_id="", kind="camera")
    app.step()
    save(app, "error-camera")

    # the recent strip with mixed states: one queued, one processing, ready and failed ones
    app.go("attract")
    q = shoot(app, clock, worker)
    app.go("attract")
    p = shoot(app, clock, worker)
    worker.status(p, "processing")
    app.go("attract")
    assert poll(lambda: app.job_views[p].status.value == "processing", 10, step=app.step)
    app.run_for(3)
    assert q in app.job_views
    save(app, "recent")

    # camera reconnecting
    cam = app.camera.camera
    cam.paused = True
    assert poll(
        lambda: app.screen.name == "reconnecting", 10, step=lambda: (clock.advance(0.1), app.step())
    )
    save(app, "reconnecting")
    cam.paused = False
    clock.advance(1)
    assert poll(
        lambda: app.screen.name == "attract",
        30,
        step=lambda: (clock.advance(0.02), time.sleep(0.01), app.step()),
    )
    assert app.failures == 0


def test_style_buttons_only_for_styles_that_look_different(kiosk_config, make_app, worker):
    """Three styles with three local variants: three buttons, and a tap picks its style. The same
    labels all on one variant: without word that the AI works, one shutter; with it, three."""
    cfg = kiosk_config(STYLES)
    same = kiosk_config(
        STYLES.replace('local = "gold"', 'local = "diamond"').replace(
            'local = "ice"', 'local = "diamond"'
        )
    )
    for size in SIZES:
        app = make_app(cfg, size)
        worker.availability(False)
        assert poll(
            lambda app=app: app.camera.state == "live" and app.jobs.ai_online is False,
            15,
            step=app.step,
        )
        app.run_for(2)
        save(app, "attract-styles")
        assert [s for _r, s in app.screen.buttons] == ["drip", "gold", "ice"]
        # tapping the "gold" button starts the countdown with that style, named on screen
        rect = app.screen.buttons[1][0]
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1, touch=False)
        )
        app.step()
        assert app.screen.name == "countdown" and app.screen.style == "gold"
        save(app, "countdown-style")
        app.close()

        app = make_app(same, size)
        assert poll(lambda app=app: app.camera.state == "live", 15, step=app.step)
        app.run_for(2)
        assert app.jobs.local_only is None
        assert [s for _r, s in app.screen.buttons] == [None]
        app.jobs.inbox.local_only = False  # a finished job showed the AI at work
        app.run_for(2)
        assert [s for _r, s in app.screen.buttons] == ["drip", "gold", "ice"]
        app.close()


def test_result_with_wifi_join_code(kiosk_config, make_app, worker):
    """With share.wifi_ssid set, the result also shows a join-Wi-Fi QR at least as large as the
    download QR, beside it and not over the photo; both codes decode."""
    cfg = kiosk_config("countdown_s = 0")
    cfg.share.wifi_ssid = "AnnaBen-Booth"
    cfg.share.wifi_password = "confetti2026"
    for size in SIZES:
        app = make_app(cfg, size)
        assert poll(lambda app=app: app.camera.state == "live", 15, step=app.step)
        app._last_shot_at = -1e9
        assert app.request_shot()
        job_id = app.screen.job_id
        assert poll(lambda job_id=job_id: job_id in worker.job_ids(), 15, step=app.step)
        worker.finish(job_id)
        assert poll(
            lambda app=app, job_id=job_id: (
                app.screen.name == "result" and app.result_surface(job_id)
            ),
            15,
            step=app.step,
        )
        app.run_for(2)
        save(app, "result-wifi")
        assert decode_qr(app) == qr_link(app.job_views[job_id].share_url)
        screen = app.screen
        plan = screen.plan(app.job_views[job_id])
        assert screen.wifi_rect.width >= screen.qr_rect.width
        assert not screen.wifi_rect.colliderect(screen.qr_rect)
        for code in (screen.wifi_rect, screen.qr_rect):
            assert not code.colliderect(plan.photo)
        arr = pygame.surfarray.array3d(app.surface).swapaxes(0, 1)
        bgr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
        r = screen.wifi_rect.inflate(30, 30).clip(app.surface.get_rect())
        text = read_qr(np.ascontiguousarray(bgr[r.top : r.bottom, r.left : r.right]))
        assert text == "WIFI:T:WPA;S:AnnaBen-Booth;P:confetti2026;;"
        app.close()


def test_the_result_switches_to_the_cloud_link_once_its_upload_is_confirmed(kiosk_config, make_app):
    """A guest looking at the LAN link's QR sees it become the cloud link the moment the share
    process confirms the upload (a `cloud` event), with the line saying where it works; the Wi-Fi
    step goes, as a cloud link needs no booth Wi-Fi."""
    import dataclasses

    from booth.protocol import JobStatus
    from kiosk.jobs.views import JobEvent, JobView
    from tests.kiosk.helpers import FIXTURES

    cfg = kiosk_config()
    cfg.share.wifi_ssid, cfg.share.wifi_password = "Booth", "confetti2026"
    app = make_app(cfg, (800, 480))
    lan = JobView(
        "jobcloud01",
        "drip",
        time.time(),
        JobStatus.COMPLETED,
        effect="local",
        ai_path=FIXTURES / "portrait.jpg",
        result_path=FIXTURES / "portrait.jpg",
        token="7K2QX9MBV4RT8HZP3WD",
        code="K7QX2M",
        share_url="http://booth.local:8080/p/7K2QX9MBV4RT8HZP3WD",
    )
    app._on_job_event(JobEvent("ready", lan))
    app.open_job("jobcloud01")
    app.step()
    assert app.screen.name == "result" and app.screen.state()["link"] == "lan"
    assert decode_qr(app).upper() == lan.share_url.upper() and app.screen.wifi_rect.width
    cloud = dataclasses.replace(lan, cloud_url="https://photos.example.org/b1/k3v9q2xw7h4m8t6")
    app._on_job_event(JobEvent("cloud", cloud))
    app.step()
    state = app.screen.state()
    assert state["link"] == "cloud" and state["code"] is None
    assert decode_qr(app) == cloud.cloud_url
    assert app.screen.status() == app.ctx.texts("works_anywhere")
    assert [b.name for b in app.screen.blocks()] == ["download"]
