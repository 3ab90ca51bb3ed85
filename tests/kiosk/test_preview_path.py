"""The start screen priced for a Pi: frames made for the screen, no work on the frame loop that
need not be done, layers that look exactly like what they replace, the preview's pace, what
the kiosk keeps in memory, and the shot's copies made once. Speed itself is measured in
bench/bench_kiosk.py, not here."""

from __future__ import annotations

import cv2
import numpy as np
import pygame
import pytest

from kiosk.camera.base import BGRX, RGB, RGBX, Frame, View, cover_crop, fit_view
from kiosk.jobs.capture import ai_copy, crop_to_aspect, fit_within
from kiosk.ui import draw, theme
from kiosk.ui.app import IDLE_PREVIEW_FPS, NO_PREVIEW_CAMERA_FPS
from kiosk.ui.preview import Preview, display_layout
from kiosk.ui.surfaces import MIN_BUDGET_BYTES, ImageStore, budget_for
from kiosk.ui.theme import MAX_FONTS, Fonts
from tests.kiosk.conftest import FakeClock
from tests.kiosk.helpers import poll


@pytest.fixture(scope="module")
def display() -> pygame.Surface:
    pygame.display.init()
    pygame.font.init()
    return pygame.display.set_mode((320, 200))


def marked(w: int = 400, h: int = 300) -> np.ndarray:
    """A BGR picture, grey with a pure blue top-left quarter (to see mirrors and channels)."""
    bgr = np.full((h, w, 3), 90, np.uint8)
    bgr[: h // 4, : w // 4] = (255, 0, 0)
    return bgr


@pytest.mark.parametrize("shape", [(3040, 4056), (4056, 3040), (480, 800), (1080, 1920)])
@pytest.mark.parametrize("size", [(800, 480), (720, 1280), (1280, 720), (600, 600)])
def test_the_preview_and_the_still_are_cropped_alike(shape, size):
    """The camera's crop (kiosk/camera) and the still's (kiosk/jobs) are one rule kept twice."""
    img = np.zeros((*shape, 3), np.uint8)
    assert cover_crop(img, size).shape == crop_to_aspect(img, size).shape


def test_fit_view_makes_the_screen_frame(display):
    frame = fit_view(marked(), View((200, 100), True, BGRX))
    assert frame.shape == (100, 200, 4) and frame.flags.c_contiguous
    top_right, top_left = frame[5, 195], frame[5, 5]
    assert tuple(top_right[:3]) == (255, 0, 0)  # B,G,R,X: blue, mirrored to the right
    assert tuple(top_left[:3]) == (90, 90, 90)
    plain = fit_view(marked(), View((200, 100), False, RGB))
    assert plain.shape == (100, 200, 3) and tuple(plain[5, 5]) == (0, 0, 255)  # R,G,B


def test_the_display_surface_layout(display):
    """The dummy driver's surface is XRGB8888 (B,G,R,X in memory), like KMSDRM's."""
    assert display_layout(display) == BGRX
    assert display_layout(pygame.Surface((4, 4), 0, 24)) == RGB
    rgbx = pygame.Surface((4, 4), 0, 32, (0xFF, 0xFF00, 0xFF0000, 0))
    assert display_layout(rgbx) == RGBX


def test_a_frame_made_for_the_view_is_shown_without_a_copy(display):
    view = View((200, 100), True, BGRX)
    preview = Preview(view.size, BGRX)
    image = fit_view(marked(), view)
    preview.update(Frame(image, 1, 0.0, BGRX, True))
    assert preview.converted == 0 and preview.surface is not None
    image[0, 0] = (1, 2, 3, 0)  # the surface shares the camera's pixels
    assert tuple(preview.surface.get_at((0, 0)))[:3] == (3, 2, 1)
    display.blit(preview.surface, (0, 0))  # opaque: X is not alpha
    assert tuple(display.get_at((0, 0)))[:3] == (3, 2, 1)


def test_a_frame_not_made_for_the_view_is_converted(display):
    """A camera that ignores the view (or a frame from before it was set) still shows right:
    scaled, mirrored and in the display's layout, and counted."""
    preview = Preview((200, 100), BGRX)
    rgb = cv2.cvtColor(marked(), cv2.COLOR_BGR2RGB)
    preview.update(Frame(rgb, 1, 0.0, RGB, False))
    assert preview.converted == 1
    assert tuple(preview.surface.get_at((195, 5)))[:3] == (0, 0, 255)  # blue, on the right
    preview.update(Frame(rgb, 1, 0.0, RGB, False))  # the same frame again: nothing to do
    assert preview.converted == 1


def paint_scene(surf: pygame.Surface, fonts: Fonts, store: ImageStore) -> None:
    surf.blit(draw.gradient(store, (320, 100), 190, 0), (0, 0))
    draw.rounded(surf, pygame.Rect(20, 120, 140, 50), theme.PANEL, 12, alpha=140, store=store)
    draw.text(surf, fonts, "Tap to get dripped", 24, theme.INK, (160, 60), shadow=True)
    draw.button(surf, fonts, pygame.Rect(170, 130, 130, 50), "Go", pulse=0.3)


def test_a_layer_looks_exactly_like_painting_over_the_picture(display):
    """Gradients, translucent panels, antialiased text with its shadow: painted once into a
    premultiplied layer and blitted, they give the pixels painting them directly gives."""
    store = ImageStore()
    fonts = Fonts(store, floor=10)
    rng = np.random.default_rng(7)
    photo = pygame.surfarray.make_surface(rng.integers(0, 256, (320, 200, 3), dtype=np.uint8))
    direct = photo.convert()
    paint_scene(direct, fonts, store)
    via = photo.convert()
    draw.blit_layer(
        via, draw.layer(store, "t", 1, (320, 200), lambda s: paint_scene(s, fonts, store))
    )
    diff = np.abs(
        pygame.surfarray.array3d(direct).astype(int) - pygame.surfarray.array3d(via).astype(int)
    )
    assert diff.max() <= 3, diff.max()
    # a plain alpha layer (what a naive cache would do) darkens the text's edges
    naive = pygame.Surface((320, 200), pygame.SRCALPHA)
    paint_scene(naive, fonts, store)
    plain = photo.convert()
    plain.blit(naive, (0, 0))
    naive_diff = np.abs(
        pygame.surfarray.array3d(direct).astype(int) - pygame.surfarray.array3d(plain).astype(int)
    )
    assert naive_diff.max() > 20


def test_a_layer_is_painted_once_per_signature_and_replays_its_text(display):
    store = ImageStore()
    fonts = Fonts(store, floor=10)
    painted: list[int] = []

    def paint(s: pygame.Surface) -> None:
        painted.append(1)
        draw.text(s, fonts, "Hello", 20, theme.INK, (50, 20), role="headline")

    for _ in range(3):
        with draw.recording() as lines:
            layer = draw.layer(store, "t", ("a",), (320, 200), paint)
        assert [line.text for line in lines] == ["Hello"]  # every frame sees its text
    assert len(painted) == 2  # over black and over white, once
    draw.layer(store, "t", ("b",), (320, 200), paint)
    assert len(painted) == 4  # a new signature paints it again
    # cut to what was painted: a small blit
    assert layer.surface.get_width() < 120 and layer.pos[0] > 0


def test_an_area_layer_paints_only_its_area_and_keeps_its_text_on_the_screen(display):
    store = ImageStore()
    fonts = Fonts(store, floor=10)
    area = pygame.Rect(200, 100, 100, 60)
    with draw.recording() as lines:
        layer = draw.layer(
            store,
            "cell",
            1,
            (320, 200),
            lambda s: draw.text(s, fonts, "Hi", 20, theme.INK, (50, 30)),
            area,
        )
    assert layer.surface.get_width() <= area.width and area.collidepoint(layer.pos)
    assert area.contains(lines[0].rect)  # the record is where it shows on the screen


def test_the_start_screen_paces_itself_and_the_camera(kiosk_config, make_app):
    """Untouched for a while, the start screen shows IDLE_PREVIEW_FPS; a touch brings the full
    rate back; the camera is asked for no more frames than are shown."""
    paces: list[float] = []
    clock = FakeClock()
    app = make_app(kiosk_config("fps = 30"), (320, 200), clock=clock)
    real_pace = app.camera.pace
    app.camera.pace = lambda fps: (paces.append(fps), real_pace(fps))
    assert poll(lambda: app.camera.state == "live", 10, step=app.step)
    assert app.fps() == 30 and paces[-1] == 30
    app.idle_after_s = 1.0  # (the fake clock also drives the camera's stall check)
    clock.advance(1.5)
    app.step()
    assert app.idle() and app.fps() == IDLE_PREVIEW_FPS and paces[-1] == IDLE_PREVIEW_FPS
    # a tap anywhere (here on the privacy line, which does nothing) is someone at the screen
    pygame.event.post(
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(5, 195), button=1, touch=False)
    )
    app.step()
    assert not app.idle() and app.fps() == 30
    app.go("error", kind="camera")
    app._pace_camera(clock())
    assert app.screen.name == "error" and paces[-1] == NO_PREVIEW_CAMERA_FPS


def test_the_camera_makes_frames_for_the_kiosk_screen(kiosk_config, make_app):
    app = make_app(kiosk_config(), (320, 200))
    assert poll(lambda: app.camera.frame() is not None, 10, step=app.step)
    frame = app.camera.frame()
    assert frame.image.shape == (200, 320, 4) and frame.layout == BGRX and frame.mirrored
    app.step()
    assert app.pictures.preview.converted == 0


def test_fonts_and_the_image_cache_are_bounded(display):
    fonts = Fonts(None, floor=10)
    for size in range(10, 10 + 3 * MAX_FONTS):
        fonts.get(size)
    assert len(fonts._cache) == MAX_FONTS
    assert budget_for((800, 480)) == MIN_BUDGET_BYTES
    assert budget_for((1280, 720)) < 20_000_000 < budget_for((1920, 1080))


def test_the_ai_copy_is_scaled_once_from_the_shot():
    shot = marked(4056, 3040)
    view = crop_to_aspect(shot, (1280, 720))  # a view: the 12 MP are not copied
    assert np.shares_memory(view, shot)
    ai = ai_copy(view, 1536, 90)
    assert ai.pixels.shape == (864, 1536, 3)
    decoded = cv2.imdecode(np.frombuffer(ai.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == ai.pixels.shape
    # BGR in, BGR out: the blue corner is still blue in the JPEG the model gets
    assert tuple(int(v) for v in decoded[20, 20]) == pytest.approx((255, 0, 0), abs=12)
    assert fit_within(ai.pixels, (800, 480)).shape == (450, 800, 3)
    assert fit_within(ai.pixels, (4000, 4000)) is ai.pixels  # never enlarged
