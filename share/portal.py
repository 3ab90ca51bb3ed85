"""The booth Wi-Fi's captive portal: phones' connectivity checks, and a friendly page elsewhere.

On the booth's own hotspot the DNS answers every name with the booth and port 80 is redirected
to this server (deploy/install.sh --hotspot), so every plain-HTTP request a phone makes lands here.
Each OS probes a known URL after joining a network and decides from the answer whether the network
"has internet", "needs a sign-in", or has none. What we answer, and why:

- **iOS / macOS** (`captive.apple.com/hotspot-detect.html` and Apple's other probe hosts): the
  `Success` page, so the captive-network sheet never opens. Inside that sheet downloads are
  restricted and "Save to Photos" is unreliable, and closing it asks the guest to pick "Use
  Without Internet" or leave the network. With `Success` the phone stays on the booth Wi-Fi and
  the link scanned from the photo QR opens in Safari, where Download works.
- **Android** (`/generate_204` on connectivitycheck.gstatic.com and vendor hosts): `204`. Android
  also probes `https://www.google.com/generate_204`, which no booth can answer (no Google
  certificate), so it concludes "partial connectivity" (NetworkMonitor: HTTP ok + HTTPS failed)
  and, on a network the guest chose, shows "<network> has limited connectivity — tap to connect
  anyway" at once. A sign-in answer would instead mark the network as a captive portal, keep mobile
  data as the default route (so the scanned link would go out over mobile data and fail) and
  suppress that prompt.
- **Windows** (`connecttest.txt`, `ncsi.txt`; the DNS probe is answered in the hotspot's dnsmasq
  snippet), **Firefox** (`detectportal.firefox.com`) and **Linux NetworkManager** (GNOME, Debian,
  Ubuntu check hosts): their expected "online" answers.
- Any other host or path: a page saying to scan the photo QR on the booth screen (status 404, so
  a probe we do not know reads it as "no internet", never as a sign-in page).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from booth.texts import Texts
from share import pages

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
NM_ONLINE = "NetworkManager is online\n"
FIREFOX_CANONICAL = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Answer:
    """What one OS's connectivity check expects back when the network is online."""

    os: str
    status: int
    body: str = ""
    content_type: str = "text/plain"


ANDROID = Answer("android", 204)
APPLE = Answer("apple", 200, APPLE_SUCCESS, "text/html")
WINDOWS_CONNECTTEST = Answer("windows", 200, "Microsoft Connect Test")
WINDOWS_NCSI = Answer("windows", 200, "Microsoft NCSI")
FIREFOX_SUCCESS = Answer("firefox", 200, "success\n")
FIREFOX_PAGE = Answer("firefox", 200, FIREFOX_CANONICAL, "text/html")
LINUX_NM = Answer("linux", 200, NM_ONLINE)
UBUNTU = Answer("linux", 204)

# Paths that mean the same check whichever host asked (vendors copy Google's and Apple's paths).
BY_PATH: dict[str, Answer] = {
    "/generate_204": ANDROID,
    "/gen_204": ANDROID,
    "/hotspot-detect.html": APPLE,
    "/library/test/success.html": APPLE,
    "/connecttest.txt": WINDOWS_CONNECTTEST,
    "/ncsi.txt": WINDOWS_NCSI,
}

# Hosts whose every path is a check (their paths are too generic to match alone).
BY_HOST: dict[str, Answer] = {
    **{
        h: APPLE
        for h in (
            "captive.apple.com",
            "www.appleiphonecell.com",
            "www.itools.info",
            "www.ibook.info",
            "www.airport.us",
            "www.thinkdifferent.us",
        )
    },
    "connectivity-check.ubuntu.com": UBUNTU,
    "nmcheck.gnome.org": LINUX_NM,
    "network-test.debian.org": LINUX_NM,
}

# Host-specific paths (Firefox serves two checks from one host).
BY_HOST_PATH: dict[tuple[str, str], Answer] = {
    ("detectportal.firefox.com", "/success.txt"): FIREFOX_SUCCESS,
    ("detectportal.firefox.com", "/canonical.html"): FIREFOX_PAGE,
}


def _host(request: web.Request) -> str:
    host = (request.host or "").lower()
    if host.startswith("["):  # an IPv6 literal keeps its colons
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".")


def answer_for(host: str, path: str) -> Answer | None:
    """The connectivity-check answer for a request, or None when it is no known check."""
    return BY_HOST_PATH.get((host, path)) or BY_PATH.get(path) or BY_HOST.get(host)


def add_portal_routes(app: web.Application, texts: Texts, title: str) -> Handler:
    """Register the catch-all last, so every route of the share server keeps precedence.
    Returns the handler, for routes that hand a request they do not own back to the portal."""
    page = pages.portal_page(texts, title)

    async def portal(request: web.Request) -> web.Response:
        """A connectivity-check answer, else the friendly page."""
        found = answer_for(_host(request), request.path)
        headers = {"Cache-Control": "no-store"}
        if found is None:
            return web.Response(
                text=page, status=404, content_type="text/html", charset="utf-8", headers=headers
            )
        if found.status == 204:
            return web.Response(status=204, headers=headers)
        return web.Response(
            text=found.body, status=found.status, content_type=found.content_type, headers=headers
        )

    app.router.add_get("/{tail:.*}", portal)
    return portal
