"""QR codes: the matrix the kiosk draws, the terminal and SVG renderings, the Wi-Fi join payload.

The matrix and the two renderings come from the `qrcode` library; the kiosk draws the matrix
itself (whole-pixel modules, no PIL) in `kiosk/draw.py`.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
import qrcode.image.svg


def _code(data: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code of `data` as rows of booleans (True = dark), quiet zone included."""
    return _code(data).get_matrix()


def qr_terminal(data: str) -> str:
    """The QR drawn with half-block characters for a terminal (dark on the terminal's light)."""
    out = io.StringIO()
    _code(data).print_ascii(out=out, invert=True)
    return out.getvalue().rstrip("\n")


def qr_svg(data: str) -> str:
    """A standalone SVG document of the QR code (one path on a white background)."""
    image = _code(data).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
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
