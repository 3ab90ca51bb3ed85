"""Text a guest reads from a metre: every screen, state, size and language, measured.

For each line of text drawn (kiosk/ui/draw.py records them): its font size is at least the type
floor (4 mm on the 7" 800×480 panel, the same share of the short side elsewhere), nothing was
cut with an ellipsis, it stays inside its layout box and the screen, no two lines overlap, and
the screen's headline is its largest text. The figures go to tests/output/type-report.txt; the
English and German renderings to tests/output/screens/ (tests/kiosk/gallery.py).
"""

from __future__ import annotations

import itertools

import pygame
import pytest

from kiosk.ui.theme import Fonts, Layout
from tests.kiosk.gallery import LANGUAGES, SIZES, STATES, Gallery, local_results
from tests.kiosk.helpers import SCREENS_OUT

# CPU-bound for tens of seconds (every line of text of every screen measured): in the parallel
# run one xdist group per core of the CI machine keeps at most two such tests at once; and one
# worker sees every size, so the module fixture's report covers them all
pytestmark = pytest.mark.xdist_group("cpu2")

REPORT = SCREENS_OUT.parent / "type-report.txt"
# Not guest text: the countdown's giant digits ("display"), and the operator mark's reasons
# ("operator": English for the host, read at arm's length after a long press or F1 — drawn over
# the screen on purpose; kiosk/ui/screens/operator_mark.py). test_operator_text_is_only_in_its_panel
# checks that the operator role is used for nothing else.
SKIPPED_ROLES = ("display", "operator")


def ink_height(size: int, text: str = "H") -> int:
    """Rows of `text` rendered at `size` that hold ink (a capital: the cap height)."""
    img = Fonts().get(size, False).render(text, True, (255, 255, 255))
    rows = [
        y
        for y in range(img.get_height())
        if any(img.get_at((x, y)).a > 127 for x in range(img.get_width()))
    ]
    return rows[-1] - rows[0] + 1 if rows else 0


@pytest.fixture(scope="module")
def fonts_report():
    """Collects the smallest text and headline per size; writes tests/output/type-report.txt."""
    seen: dict[tuple[int, int], dict] = {}

    def add(size, lang, state, lines) -> None:
        texts = [r for r in lines if r.role not in SKIPPED_ROLES]
        if not texts:
            return
        row = seen.setdefault(size, {"small": None, "head": None})
        small = min(texts, key=lambda r: r.size)
        if row["small"] is None or small.size < row["small"][0]:
            row["small"] = (small.size, f"{state} ({lang}): {small.text!r}")
        heads = [r.size for r in texts if r.role == "headline"]
        if heads and (row["head"] is None or min(heads) < row["head"][0]):
            row["head"] = (min(heads), f"{state} ({lang})")

    yield add
    if not seen:
        return
    out = [
        "Guest text, measured on every screen, state and language (tests/kiosk/test_type.py).",
        'mm = as tall on the Raspberry Pi 7" panel (800x480 on 154.2 mm) with this layout '
        "scaled to its short side; em = the font's pixel size, cap = a capital's ink height.",
        "",
    ]
    for size, row in sorted(seen.items()):
        L = Layout(*size)
        px, what = row["small"]
        out.append(
            f"{size[0]}x{size[1]}: floor {L.type.floor} px; smallest text {px} px "
            f"(em {L.mm_on_7in(px):.2f} mm, cap {L.mm_on_7in(ink_height(px)):.2f} mm) "
            f"in {what}"
        )
        if row["head"]:
            hp, hwhat = row["head"]
            out.append(f"  smallest headline {hp} px (em {L.mm_on_7in(hp):.2f} mm) in {hwhat}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(out) + "\n")


ORPHANS = {"s", "min", "%", "!", "?", ":"}


def problems_in(state, lines, layout: Layout, where: str) -> list[str]:
    T = layout.type
    screen = pygame.Rect(0, 0, layout.w, layout.h)
    texts = [r for r in lines if r.role not in SKIPPED_ROLES]
    found = []
    for r in texts:
        if r.size < T.floor:
            found.append(f"{where}: {r.text!r} at {r.size} px < floor {T.floor} px")
        if r.cut:
            found.append(f"{where}: {r.text!r} does not fit even at the floor (cut)")
        if not r.box.inflate(2, 2).contains(r.rect):
            found.append(f"{where}: {r.text!r} {r.rect} overflows its box {r.box}")
        if not screen.contains(r.rect):
            found.append(f"{where}: {r.text!r} {r.rect} is off the screen")
        if r.text.strip() in ORPHANS:
            found.append(f"{where}: {r.text!r} alone on a line (a unit torn from its number)")
    for a, b in itertools.combinations(texts, 2):
        if a.rect.inflate(-2, -2).colliderect(b.rect.inflate(-2, -2)):
            found.append(f"{where}: {a.text!r} {a.rect} overlaps {b.text!r} {b.rect}")
    heads = [r for r in texts if r.role == "headline"]
    if state.screen != "flash":
        if not heads:
            found.append(f"{where}: no headline")
        else:
            head = min(r.size for r in heads)
            bigger = [r for r in texts if r.role != "headline" and r.size >= head]
            found += [
                f"{where}: {r.text!r} ({r.size} px) is not smaller than the headline ({head} px)"
                for r in bigger
            ]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_screen_reads_from_a_metre(size, make_app, tmp_path, fonts_report):
    layout = Layout(*size)
    results = local_results(tmp_path / "results")
    problems: list[str] = []
    for lang in LANGUAGES:
        g = Gallery(tmp_path / lang, size, lang, results, make_app)
        try:
            for state in STATES:
                lines = g.draw(state)
                g.save(state)
                where = f"{state.name} {size[0]}x{size[1]} {lang}"
                problems += problems_in(state, lines, layout, where)
                fonts_report(size, lang, state.name, lines)
        finally:
            g.close()
    assert not problems, "\n".join(problems[:60])
    assert any(SCREENS_OUT.glob(f"*-{size[0]}x{size[1]}-de.png"))


def test_operator_text_is_only_in_its_panel(make_app, tmp_path):
    """The type test skips the operator role: it must hold only the mark's reasons, inside
    their panel under the mark, and only after the operator asked for them."""
    from kiosk.ui.screens import operator_mark
    from tests.kiosk.gallery import OPERATOR_STATES

    results = local_results(tmp_path / "results")
    g = Gallery(tmp_path / "en", (800, 480), "en", results, make_app)
    try:
        for state in OPERATOR_STATES:
            lines = g.draw(state)
            g.save(state)
            ops = [r for r in lines if r.role == "operator"]
            guest = [r for r in lines if r.role not in SKIPPED_ROLES]
            assert guest, state.name  # the guest's screen is still there, measured as usual
            assert not problems_in(state, guest, Layout(800, 480), state.name)
            if state.status.alerts_open:
                assert ops and any("camera" in r.text for r in ops), state.name
                panel_top = operator_mark.mark_rect(g.apps[state.config].ctx).bottom
                assert all(r.rect.top >= panel_top for r in ops)
            else:
                assert not ops, state.name
    finally:
        g.close()
