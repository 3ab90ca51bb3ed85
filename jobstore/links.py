"""Download tokens, short codes and links: the one place for their shapes and the URL shape
`{share.public_url}/p/{token}` (the result screen, `booth snap`, the share server's routes and its
operator pages all use these).

Why this shape: the QR code on the booth screen must scan from a metre, so it must have few
modules. A QR code's alphanumeric mode packs 5.5 bits per character against 8 in byte mode, but
holds only `0-9 A-Z $%*+-./:` and space — upper case. So a token is 19 characters of `0-9A-Z`
(98 random bits: plenty for a photo link on a booth's network) and the QR carries the link in
upper case (`qr_link`): scheme and host are case-insensitive anyway, the share server answers
`/P/` like `/p/` and reads tokens in any case. Tokens of the older shape (32 characters of
URL-safe base64, 192 bits, mixed case) keep working exactly as they were issued.

The short code is for typing: 6 characters from Crockford's base32 alphabet (no I, L, O, U), read
case-insensitively with O as 0 and I/L as 1. It is only 30 bits, so the share server rate-limits
wrong codes (share/server.py); it opens the same photo as the token.
"""

from __future__ import annotations

import re
import secrets
import socket
from urllib.parse import urlsplit

from booth.config import Config

TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN_LENGTH = 19  # 36**19 ≈ 2**98
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: nothing to misread
CODE_LENGTH = 6  # 32**6 = 2**30: only with the share server's limit on wrong guesses
# What a token may look like on the way in (today's shape in any case, or an older URL-safe
# base64 one); never path characters.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NEW_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{19}$")
PHOTO_PATH = "/p/{token}"  # the share server's route for a guest's page
PHOTO_PATHS = ("/p/{token}", "/P/{token}")  # … and in the QR's upper case
CODE_PATH = "/{code}"  # a typed short code (share/server.py redirects it to the page)
_CODE_INPUT_RE = re.compile(r"^[0-9A-Za-z]{6}$")
_CODE_FIX = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def valid_token(token: str) -> bool:
    return bool(TOKEN_RE.match(token))


def canonical_token(token: str) -> str | None:
    """The token as stored: today's shape in upper case, an older one unchanged; None if it
    cannot be a token."""
    if not TOKEN_RE.match(token):
        return None
    return token.upper() if NEW_TOKEN_RE.match(token) else token


def canonical_code(typed: str) -> str | None:
    """A typed short code as stored (spaces and dashes dropped, upper case, O→0, I/L→1), or
    None when it cannot be one."""
    code = typed.replace(" ", "").replace("-", "").upper().translate(_CODE_FIX)
    if not _CODE_INPUT_RE.match(code) or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def lan_address() -> str:
    """This machine's address on its default route (no packet is sent).

    A booth that runs its own hotspot often has no default route: then the first non-loopback
    IPv4 address of an interface (the hotspot's), and loopback only when there is none.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))  # UDP connect only picks a route; nothing is sent
        address: str = s.getsockname()[0]
        return address
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
                packed = fcntl.ioctl(
                    s.fileno(),
                    0x8915,  # SIOCGIFADDR
                    struct.pack("256s", name[:15].encode()),
                )
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


def qr_link(url: str) -> str:
    """The link as the QR code carries it: upper case wherever case does not matter (scheme,
    host, the /p/ route, today's tokens), so the whole link fits the QR's compact alphanumeric
    mode. A path in `share.public_url` keeps its case (a proxy may care); so does an older
    token."""
    parts = urlsplit(url)
    base_path, sep, token = parts.path.rpartition("/p/")
    if not sep or base_path:
        return url
    if NEW_TOKEN_RE.match(token):
        token = token.upper()
    netloc = parts.netloc.upper()
    return f"{parts.scheme.upper()}://{netloc}/P/{token}"


def code_address(cfg: Config, base: str | None = None) -> str:
    """Where a guest types the short code: the base URL without its scheme (`10.42.0.1:8080`)."""
    return (base or public_base_url(cfg)).split("://", 1)[-1]
