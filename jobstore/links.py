"""Download tokens and links: the one place for the token's shape and the URL shape
`{share.public_url}/p/{token}` (the result screen, `booth snap`, the share server's routes and its
operator pages all use these).
"""

from __future__ import annotations

import re
import secrets
import socket

from booth.config import Config

TOKEN_BYTES = 24  # 192 random bits, URL-safe base64: 32 characters
# What a token may look like on the way in; never path characters.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PHOTO_PATH = "/p/{token}"  # the share server's route for a guest's page


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def valid_token(token: str) -> bool:
    return bool(TOKEN_RE.match(token))


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


def share_url(cfg: Config, token: str, base: str | None = None) -> str:
    """The guest's link; `base` saves a look-up of the LAN address when many are built."""
    return (base or public_base_url(cfg)) + PHOTO_PATH.format(token=token)
