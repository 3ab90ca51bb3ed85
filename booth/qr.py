"""QR codes: the matrix the kiosk draws, the terminal and SVG renderings, the Wi-Fi join payload.

The matrix and the two renderings come from the `qrcode` library; the kiosk draws the matrix
itself (whole-pixel modules, no PIL) in `kiosk/ui/draw.py`.

Why the error correction level is chosen per code: what limits scanning from a metre is the size
of one module on the phone's sensor, so the fewest modules win. Level L (7 % recovery) gives the
smallest code; a glowing screen is not a crumpled flyer, and the code has no logo over it. A
higher level is taken whenever it fits in the same number of modules (free robustness).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.image.svg

# Lowest first: the smallest code wins, then the most robust level at that size.
LEVELS = (
    ("L", qrcode.constants.ERROR_CORRECT_L),
    ("M", qrcode.constants.ERROR_CORRECT_M),
    ("Q", qrcode.constants.ERROR_CORRECT_Q),
    ("H", qrcode.constants.ERROR_CORRECT_H),
)
PRINT_BORDER = 4  # the standard's quiet zone (the kiosk draws its own: kiosk/ui/draw.py)


@dataclass(frozen=True)
class QrInfo:
    version: int
    modules: int  # modules across, without the quiet zone (21 + 4 per version above 1)
    level: str


def _code(data: str, border: int = PRINT_BORDER) -> tuple[qrcode.QRCode[Any], str]:
    """The code of `data` at the chosen level. Only the version is worked out per level (cheap);
    the matrix, with its mask search, is made once."""
    best = None
    for name, level in LEVELS:
        qr = qrcode.QRCode(error_correction=level, border=border)
        qr.add_data(data)  # splits the data into its most compact modes (alphanumeric if it can)
        try:
            version = qr.best_fit()
        except qrcode.exceptions.DataOverflowError:
            break
        if best is not None and version > best[0].version:
            break
        best = (qr, name)
    if best is None:
        raise ValueError(f"{len(data)} characters do not fit a QR code")
    qr, name = best
    qr.make(fit=False)
    return qr, name


def qr_info(data: str) -> QrInfo:
    qr, level = _code(data)
    return QrInfo(qr.version, 17 + 4 * qr.version, level)


def qr_matrix(data: str, border: int = PRINT_BORDER) -> list[list[bool]]:
    """The QR code of `data` as rows of booleans (True = dark), `border` modules of quiet zone
    included."""
    return _code(data, border)[0].get_matrix()


def qr_terminal(data: str) -> str:
    """The QR drawn with half-block characters for a terminal (dark on the terminal's light)."""
    out = io.StringIO()
    _code(data)[0].print_ascii(out=out, invert=True)
    return out.getvalue().rstrip("\n")


def qr_svg(data: str) -> str:
    """A standalone SVG document of the QR code (one path on a white background)."""
    image = _code(data)[0].make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="unicode")


def _wifi_escape(text: str) -> str:
    for ch in ("\\", ";", ",", ":", '"'):
        text = text.replace(ch, "\\" + ch)
    return text


def wifi_join_payload(ssid: str, password: str = "") -> str | None:
    """`WIFI:T:WPA;S:…;P:…;;` for phones to join a network, or None without an SSID."""
    if not ssid:
        return None
    if password:
        return f"WIFI:T:WPA;S:{_wifi_escape(ssid)};P:{_wifi_escape(password)};;"
    return f"WIFI:T:nopass;S:{_wifi_escape(ssid)};;"
