"""What the kiosk draws as QR codes: the download URL of a job and the join-Wi-Fi payload.

One place for the URL shape `{share.public_url}/p/{token}`, used by the result screen, `booth snap`
and the server's own pages.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import qrcode
import qrcode.constants

from booth.config import Config


def lan_address() -> str:
    """This machine's address on its default route (no packet is sent).

    A booth that runs its own hotspot often has no default route: then the first non-loopback
    IPv4 address of an interface (the hotspot's), and loopback only when there is none.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))  # UDP connect only picks a route; nothing is sent
        return s.getsockname()[0]
    except OSError:
        found = interface_addresses()
        return found[0] if found else "127.0.0.1"
    finally:
        s.close()


def interface_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of this machine's interfaces (Linux; empty elsewhere)."""
    try:
        import fcntl
        import struct
        names = [name for _, name in socket.if_nameindex()]
    except (ImportError, OSError, AttributeError):
        return []
    found = []
    for name in names:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name[:15].encode()))
            except OSError:  # no IPv4 address on this interface
                continue
        addr = socket.inet_ntoa(packed[20:24])
        if not addr.startswith("127."):
            found.append(addr)
    return found


def public_base_url(cfg: Config) -> str:
    if cfg.share.public_url:
        return cfg.share.public_url.rstrip("/")
    return f"http://{lan_address()}:{cfg.share.port}"


def share_url(cfg: Config, token: str) -> str:
    return f"{public_base_url(cfg)}/p/{token}"


def _wifi_escape(text: str) -> str:
    for ch in ("\\", ";", ",", ":", '"'):
        text = text.replace(ch, "\\" + ch)
    return text


def wifi_join_payload(cfg: Config) -> str | None:
    """`WIFI:T:WPA;S:…;P:…;;` for phones to join the booth's network, or None if not configured."""
    if not cfg.share.wifi_ssid:
        return None
    if cfg.share.wifi_password:
        return (f"WIFI:T:WPA;S:{_wifi_escape(cfg.share.wifi_ssid)};"
                f"P:{_wifi_escape(cfg.share.wifi_password)};;")
    return f"WIFI:T:nopass;S:{_wifi_escape(cfg.share.wifi_ssid)};;"


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code of `data` as rows of booleans (True = dark), quiet zone included."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.get_matrix()


def qr_terminal(data: str) -> str:
    """The QR drawn with half-block characters, two modules per character row (for terminals)."""
    m = qr_matrix(data)
    if len(m) % 2:
        m = m + [[False] * len(m[0])]
    lines = []
    for top, bottom in zip(m[0::2], m[1::2]):
        # dark modules print as spaces on a light background: the terminal's default is dark
        line = "".join({(True, True): " ", (True, False): "▄", (False, True): "▀",
                        (False, False): "█"}[(t, b)] for t, b in zip(top, bottom))
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True)
class ResultCodes:
    """What the kiosk's result screen draws: the download QR and, if configured, a Wi-Fi QR."""

    url: str
    url_matrix: list[list[bool]]
    wifi_ssid: str | None = None
    wifi_payload: str | None = None
    wifi_matrix: list[list[bool]] | None = None


def result_codes(cfg: Config, token: str) -> ResultCodes:
    """Both QR codes of one result; phones must join the booth's Wi-Fi before the link works."""
    url = share_url(cfg, token)
    wifi = wifi_join_payload(cfg)
    return ResultCodes(url=url, url_matrix=qr_matrix(url),
                       wifi_ssid=cfg.share.wifi_ssid or None, wifi_payload=wifi,
                       wifi_matrix=qr_matrix(wifi) if wifi else None)
