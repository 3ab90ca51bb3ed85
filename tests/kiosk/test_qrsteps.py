"""The result screen's two steps (join the booth Wi-Fi, then download): on every screen each element
inside it and clear of every other, each code at least as large as the download code; on
portrait screens one row per step where the rows fit, side by side where they do not."""

from __future__ import annotations

import pygame
import pytest

from booth.config import Config
from booth.qr import qr_matrix
from booth.texts import Texts
from kiosk.ui.offer import wifi_join, wifi_lines
from kiosk.ui.qrlayout import QrBlock, ResultPlan, ResultTexts, plan
from kiosk.ui.screens.result import join_block, typed_captions
from kiosk.ui.theme import Fonts, Layout
from tests.kiosk.gallery import NETWORKS as GALLERY_NETWORKS

NETWORKS = [
    GALLERY_NETWORKS["wifi"],
    ("X", ""),
    GALLERY_NETWORKS["wifi-long"],
    ("Hochzeit Müller & Schmidt", "sommer fest 2026"),
]


def blocks(t: Texts, ssid: str, password: str) -> list[QrBlock]:
    """What kiosk/ui/screens/result.py gives the planner for a LAN link with the booth Wi-Fi."""
    cfg = Config()
    cfg.share.wifi_ssid, cfg.share.wifi_password = ssid, password
    matrix = wifi_join(cfg)
    assert matrix is not None
    download = qr_matrix("HTTP://192.168.1.123:8080/P/7K2QX9MBV4RT8HZP3WD", border=0)
    return [
        join_block(t, matrix, wifi_lines(cfg, t)),
        QrBlock(
            "download", download, t("then_scan"), typed_captions(t, "192.168.1.123:8080", "K7QX2M")
        ),
    ]


def layout(
    size: tuple[int, int], language: str, network: tuple[str, str], note: bool, style: bool = True
) -> ResultPlan:
    t = Texts(language)
    L = Layout(*size)
    lines = [t("style_named", style="Gold grillz")] if style else []
    texts = ResultTexts(
        t("ready"),
        lines,
        t("on_booth_wifi"),
        t("fallback_note") if note else "",
        t("new_photo"),
        t("back_in", seconds=60),
    )
    return plan(L, Fonts(floor=L.type.floor), blocks(t, *network), texts)


def problems(p: ResultPlan, size: tuple[int, int]) -> list[str]:
    named = [
        ("photo", p.photo),
        ("headline", p.headline),
        ("button", p.button),
        ("countdown", p.countdown),
    ] + [(f"line {text!r}", r) for text, r in p.lines]
    named += [(n, r) for n, r in (("status", p.status), ("note", p.note)) if r is not None]
    for b in p.blocks:
        named += [(f"{b.block.name} label", b.label), (f"{b.block.name} code", b.code)]
        named += [(f"{b.block.name} {c.text!r}", r) for c, r in b.captions]
    named = [(n, r) for n, r in named if r.height > 0]
    screen = pygame.Rect(0, 0, *size)
    found = [f"{n} {r} leaves the screen" for n, r in named if not screen.contains(r)]
    found += [
        f"{a} {ra} overlaps {b} {rb}"
        for i, (a, ra) in enumerate(named)
        for b, rb in named[i + 1 :]
        if ra.colliderect(rb)
    ]
    return found


@pytest.fixture(scope="module", autouse=True)
def fonts_ready():
    pygame.font.init()


@pytest.mark.parametrize(
    "size",
    [
        (720, 1280),
        (480, 800),
        (600, 1024),
        (768, 1024),
        (1080, 1920),
        (800, 480),
        (1024, 600),
        (1280, 800),
    ],
    ids=lambda s: f"{s[0]}x{s[1]}",
)
def test_every_element_has_its_own_place(size):
    found = []
    for language in ("en", "de", "fr", "es"):
        for network in NETWORKS:
            for note in (False, True):
                p = layout(size, language, network, note)
                wifi, download = p.blocks
                assert wifi.code.width >= download.code.width
                found += [f"{language} {network[0]} note={note}: {f}" for f in problems(p, size)]
    assert not found, "\n".join(found[:20])


def test_portrait_7_inch_gives_each_step_a_row():
    """On the 720×1280 panel the codes are one above the other on alternating sides, each
    larger than two side by side could be, with the network name and password beside the
    join code; the photo shares the top row with the headline."""
    p = layout((720, 1280), "en", NETWORKS[0], note=False, style=False)
    wifi, download = p.blocks
    assert wifi.code.bottom < download.code.top
    assert wifi.code.left < download.code.left and wifi.code.right < download.code.right
    assert min(wifi.code.width, download.code.width) > 720 // 2
    assert wifi.cell >= download.cell >= 13  # modules ≥ 1.57 mm on the 87 mm wide panel
    for _caption, box in wifi.captions:
        assert box.left >= wifi.code.right and wifi.code.top <= box.centery <= wifi.code.bottom
    assert p.photo.bottom < wifi.code.top and p.headline.left > p.photo.right
    assert p.status is not None  # room for "Downloads work on the booth Wi-Fi"


def test_a_long_network_name_goes_under_its_code_and_the_status_gives_way():
    p = layout((720, 1280), "en", NETWORKS[2], note=False)
    wifi, download = p.blocks
    network = wifi.captions[0][1]
    assert network.top > wifi.code.bottom and network.width > wifi.code.width
    assert p.status is None  # its room went to the codes
    assert download.cell >= 12


def test_a_screen_barely_taller_than_wide_puts_the_codes_side_by_side():
    p = layout((768, 1024), "de", NETWORKS[0], note=True)
    wifi, download = p.blocks
    assert wifi.code.top == download.code.top and wifi.code.right < download.code.left
    assert not problems(p, (768, 1024))


@pytest.mark.parametrize("size", [(800, 480), (1024, 600)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_beside_two_codes_the_note_goes_under_them_and_the_photo_keeps_its_size(size):
    """The local effect's note (five lines in the photo column beside two codes, leaving the
    photo a thumbnail) goes under the codes, where the status line was."""
    for language in ("en", "de", "fr", "es"):
        p = layout(size, language, NETWORKS[0], note=True, style=False)
        lowest = max(r.bottom for b in p.blocks for r in [b.code] + [c for _, c in b.captions])
        assert p.note is not None and p.note.top >= lowest
        assert p.note.left >= p.blocks[0].code.left - size[0] // 10
        assert p.status is None and p.photo.height >= size[1] * 3 // 10, (language, p.photo)
