"""What the kiosk draws: the download URL/QR and the Wi-Fi join QR, read back with OpenCV."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import cv2
import numpy as np

from booth.qr import qr_matrix, wifi_join_payload
from jobstore.links import lan_address, share_url
from tests.share.helpers import add_job
from tests.support.phonecam import decode_screenshot


def _read_qr(matrix: list[list[bool]]) -> str:
    img: np.ndarray = np.where(np.array(matrix, dtype=bool), 0, 255).astype(np.uint8)
    img = cv2.resize(img, (img.shape[1] * 8, img.shape[0] * 8), interpolation=cv2.INTER_NEAREST)
    found = decode_screenshot(img)  # (the classic detector alone misses ~1 % of sharp codes)
    return found.pop() if len(found) == 1 else ""


def test_share_url_uses_public_url(share_cfg):
    cfg = share_cfg('[share]\npublic_url = "https://photos.example.org/booth/"\n')
    assert share_url(cfg, "tok") == "https://photos.example.org/booth/p/tok"


def test_share_url_derived_from_lan_address_and_port(share_cfg):
    cfg = share_cfg("[share]\nport = 8123\n")
    parts = urlsplit(share_url(cfg, "abc"))
    assert parts.scheme == "http" and parts.port == 8123 and parts.path == "/p/abc"
    assert parts.hostname == lan_address()
    ipaddress.IPv4Address(parts.hostname)


def _wifi(cfg) -> str | None:
    return wifi_join_payload(cfg.share.wifi_ssid, cfg.share.wifi_password)


def test_wifi_payloads(share_cfg):
    assert _wifi(share_cfg("")) is None
    cfg = share_cfg('[share]\nwifi_ssid = "Drip;Booth"\nwifi_password = "p:a\\\\ss,1"\n')
    assert _wifi(cfg) == "WIFI:T:WPA;S:Drip\\;Booth;P:p\\:a\\\\ss\\,1;;"
    cfg = share_cfg('[share]\nwifi_ssid = "Open Booth"\n')
    assert _wifi(cfg) == "WIFI:T:nopass;S:Open Booth;;"


def test_qr_codes_decode_and_the_link_works(share_cfg, serve):
    from jobstore.ledger import Ledger, ledger_path

    cfg = share_cfg('[share]\nwifi_ssid = "DripBooth"\nwifi_password = "hunter22"\n')
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        srv = serve(cfg, ledger=ledger)
        cfg.share.public_url = srv.base
        job = add_job(cfg, ledger)
        url = share_url(cfg, job.token)
        assert url == f"{srv.base}/p/{job.token}"
        assert _read_qr(qr_matrix(url)) == url
        assert _read_qr(qr_matrix(_wifi(cfg))) == "WIFI:T:WPA;S:DripBooth;P:hunter22;;"
        status, _, body = srv.get(urlsplit(_read_qr(qr_matrix(url))).path)
        assert status == 200 and job.token.encode() in body
        assert _wifi(share_cfg("")) is None
    finally:
        ledger.close()


def test_interface_addresses_are_real_non_loopback_ipv4():
    """The hotspot fallback of lan_address(): the machine's own interface addresses."""
    import socket

    import pytest

    from jobstore.links import interface_addresses

    if [n for _, n in socket.if_nameindex()] == ["lo"]:
        pytest.skip("this machine has only a loopback interface")
    found = interface_addresses()
    assert found
    for addr in found:
        assert not ipaddress.IPv4Address(addr).is_loopback


def test_tokens_codes_and_the_size_of_the_code_on_screen():
    """Today's token: 19 characters of 0-9A-Z (98 bits); the QR link is upper case, so the
    whole link is in the QR's alphanumeric mode: version 2 (25 modules) for a LAN address with
    a port, where the mixed-case links needed version 4 (33)."""
    import math
    import re

    from booth.qr import qr_info
    from jobstore.links import (
        CODE_ALPHABET,
        CODE_LENGTH,
        TOKEN_ALPHABET,
        TOKEN_LENGTH,
        new_code,
        new_token,
        qr_link,
    )

    assert TOKEN_LENGTH * math.log2(len(TOKEN_ALPHABET)) >= 96
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(re.fullmatch(r"[0-9A-Z]{19}", t) for t in tokens)
    assert all(
        len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET)
        for c in (new_code() for _ in range(50))
    )
    assert not set("ILOU") & set(CODE_ALPHABET)
    for host in ("10.42.0.1:8080", "192.168.1.123:8080", "booth.local:8080"):
        link = qr_link(f"http://{host}/p/{new_token()}")
        info = qr_info(link)
        assert (info.version, info.modules, info.level) == (2, 25, "L"), (link, info)
    old = qr_info("http://192.168.1.20:8080/p/PFQIYPZVvRFX1KzqEDz_qvv6fUZ6sfAX")
    assert old.modules == 33
    # a higher error correction level is taken when it costs no modules
    assert qr_info("HTTP://10.42.0.1/P/A").level == "M"  # 20 characters: still version 1
    assert qr_info("HTTP://10.42.0.1").level == "Q"
