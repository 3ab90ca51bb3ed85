"""The captive portal of the booth Wi-Fi (share.portal): each OS's connectivity check gets the
answer that OS expects from a working network, any other host/path the friendly page, and the
guest's routes keep working on any host. Expected answers are the OSes' published ones, written
out here (not imported), so a wrong constant in share/portal.py fails."""

from __future__ import annotations

import http.client

import pytest

from tests.share.helpers import PORTRAIT, add_job

APPLE = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)

CHECKS = [
    # Android and Android vendors: an empty 204 (NetworkMonitor's HTTP probe and fallbacks)
    ("connectivitycheck.gstatic.com", "/generate_204", 204, ""),
    ("www.google.com", "/gen_204", 204, ""),
    ("clients3.google.com", "/generate_204", 204, ""),
    ("connectivitycheck.android.com", "/generate_204", 204, ""),
    ("play.googleapis.com", "/generate_204", 204, ""),
    ("connect.rom.miui.com", "/generate_204", 204, ""),
    ("connectivitycheck.platform.hicloud.com", "/generate_204", 204, ""),
    # Apple: the Success page, on the current and the older probe hosts
    ("captive.apple.com", "/hotspot-detect.html", 200, APPLE),
    ("captive.apple.com", "/", 200, APPLE),
    ("www.apple.com", "/library/test/success.html", 200, APPLE),
    ("www.appleiphonecell.com", "/x7Yh2/abc.html", 200, APPLE),
    ("www.thinkdifferent.us", "/", 200, APPLE),
    # Windows NCSI
    ("www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", 200, "Microsoft NCSI"),
    # Firefox
    ("detectportal.firefox.com", "/canonical.html", 200, FIREFOX),
    ("detectportal.firefox.com", "/success.txt", 200, "success\n"),
    # Linux NetworkManager (GNOME, Debian) and Ubuntu
    ("nmcheck.gnome.org", "/check_network_status.txt", 200, "NetworkManager is online\n"),
    ("network-test.debian.org", "/nm", 200, "NetworkManager is online\n"),
    ("connectivity-check.ubuntu.com", "/", 204, ""),
]


def fetch(
    port: int, host: str, path: str, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """A request as a phone sends it: the probe's Host header, to the booth's address."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers={"Host": host, "User-Agent": "CaptiveNetworkSupport"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture
def portal_cfg(share_cfg):
    return share_cfg(
        "",
        BOOTH_PORTAL="1",
        BOOTH_PUBLIC_URL="http://10.42.0.1",
        BOOTH_WIFI_SSID="Drip Booth",
        BOOTH_WIFI_PASSWORD="confetti2026",
    )


@pytest.fixture
def portal(portal_cfg, serve):
    from jobstore.ledger import Ledger, ledger_path

    ledger = Ledger(ledger_path(portal_cfg.data_dir))
    yield serve(portal_cfg, ledger=ledger), ledger
    ledger.close()


@pytest.mark.parametrize("host, path, status, body", CHECKS)
def test_each_connectivity_check_gets_its_online_answer(portal, host, path, status, body):
    srv, _ = portal
    got_status, headers, got_body = fetch(srv.port, host, path)
    assert (got_status, got_body.decode()) == (status, body)
    assert headers["cache-control"] == "no-store"  # never cached across networks
    # the same with the port and a trailing dot in the Host header, and for HEAD
    assert fetch(srv.port, host + ".:80", path)[0] == status
    assert fetch(srv.port, host, path, "HEAD")[0] == status


@pytest.mark.parametrize(
    "host, path",
    [
        ("example.com", "/"),
        ("10.42.0.1", "/"),
        ("booth.lan", "/some/page?q=1"),
        ("www.google.com", "/search"),
        ("captive.apple.com.evil.test", "/"),
        ("detectportal.firefox.com", "/other.txt"),
    ],
)
def test_any_other_host_or_path_gets_the_scan_the_qr_page(portal, host, path):
    srv, _ = portal
    status, headers, body = fetch(srv.port, host, path)
    html = body.decode()
    assert status == 404  # an unknown probe reads "no internet", never "sign in here"
    assert headers["content-type"].startswith("text/html")
    assert "scan the photo QR code on the booth screen" in html
    assert "Drip Me Out" in html  # the event title
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_guest_routes_work_on_any_host_and_keep_their_own_404(portal, portal_cfg):
    srv, ledger = portal
    job = add_job(portal_cfg, ledger)
    for host in ("10.42.0.1", "booth.lan", "connectivitycheck.gstatic.com"):
        status, _, body = fetch(srv.port, host, f"/p/{job.token}")
        assert status == 200 and f"/p/{job.token}/photo.jpg" in body.decode()
        status, _, img = fetch(srv.port, host, f"/p/{job.token}/photo.jpg?dl=1")
        assert status == 200 and img == PORTRAIT.read_bytes()
    assert fetch(srv.port, "10.42.0.1", "/healthz")[0] == 200
    status, _, body = fetch(srv.port, "10.42.0.1", "/p/" + "A" * 32)
    assert status == 404 and "We can't find that photo" in body.decode()
    # other methods are not the portal's business
    assert fetch(srv.port, "example.com", "/", "POST")[0] == 405


def test_without_the_portal_nothing_answers_the_checks(cfg, server):
    """On a venue LAN (share.portal off) the server has no catch-all: its old 404 page."""
    for host, path, _, _ in CHECKS[:1] + CHECKS[7:8]:
        status, _, body = fetch(server.port, host, path)
        assert status == 404 and "We can't find that photo" in body.decode()
