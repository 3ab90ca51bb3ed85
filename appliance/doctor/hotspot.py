"""The booth Wi-Fi check (deploy/hotspot.sh's profile): NetworkManager's state, DHCP, a DNS
that answers every name with the booth, and the captive portal on port 80."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config

# ------------------------------------------------------------------------------- hotspot
HOTSPOT_ID = "booth-hotspot"  # the profile deploy/hotspot.sh writes
_HOTSPOT_FIX_UP = (
    "sudo nmcli connection up booth-hotspot; if that fails, `journalctl -u "
    "NetworkManager -b` (Wi-Fi country not set? sudo raspi-config nonint "
    "do_wifi_country XX; blocked? sudo rfkill unblock wifi)"
)


def _nmcli_fields(text: str) -> dict[str, str]:
    """`nmcli -t -f A,B connection show ID` lines (`IP4.ADDRESS[1]:10.42.0.1/24`) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.split("[")[0], value.replace("\\:", ":"))
    return out


def dns_query_a(server: str, name: str, timeout_s: float) -> list[str]:
    """The A records `server` answers for `name` (one UDP query; no resolver library needed)."""
    import random
    import struct

    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(packet, (server, 53))
        data, _ = s.recvfrom(4096)
    rid, _flags, qd, an = struct.unpack("!HHHH", data[:8])
    if rid != qid:
        raise OSError("DNS answer with a wrong id")
    pos = 12
    for _ in range(qd):  # skip the echoed question
        while data[pos] != 0:
            pos += data[pos] + 1
        pos += 5
    found = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:  # compressed name
            pos += 2
        else:
            while data[pos] != 0:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            found.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += length
    return found


def _http_get(address: str, host: str, path: str, timeout_s: float) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection(address, 80, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read(4096)
    finally:
        conn.close()


def check_hotspot(cfg: Config, probe: Probe) -> Check:
    """The booth Wi-Fi of install.sh --hotspot: profile active, address, DHCP, DNS, portal."""
    shown = probe.run(
        [
            "nmcli",
            "-t",
            "-f",
            "GENERAL.STATE,GENERAL.DEVICES,IP4.ADDRESS",
            "connection",
            "show",
            HOTSPOT_ID,
        ]
    )
    if shown is None:
        if not cfg.share.portal:
            return Check(
                "hotspot", OK, "no booth Wi-Fi set up (deploy/install.sh --hotspot makes one)"
            )
        return Check(
            "hotspot",
            FAIL,
            f"share.portal is on but NetworkManager has no {HOTSPOT_ID} profile",
            "re-run deploy/install.sh --hotspot SSID, or "
            "remove /etc/booth/hotspot.env (install.sh --no-hotspot)",
        )
    fields = _nmcli_fields(shown)
    device = fields.get("GENERAL.DEVICES", "")
    if fields.get("GENERAL.STATE") != "activated" or not device:
        return Check("hotspot", FAIL, f"profile {HOTSPOT_ID} is not active", _HOTSPOT_FIX_UP)
    address = fields.get("IP4.ADDRESS", "").split("/")[0]
    if not address:
        return Check(
            "hotspot",
            FAIL,
            f"{HOTSPOT_ID} is up on {device} without an IPv4 address",
            "re-run deploy/install.sh --hotspot (it sets ipv4.method=shared and "
            "address1=10.42.0.1/24)",
        )
    where = f"{HOTSPOT_ID} on {device} at {address}"
    # DHCP: NetworkManager's dnsmasq for this interface (nm-dnsmasq-manager.c's pid file)
    pid_file = probe.nm_run_dir / f"nm-dnsmasq-{device}.pid"
    try:
        pid = int(pid_file.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        comm = ""
    if comm != "dnsmasq":
        return Check(
            "hotspot",
            FAIL,
            f"{where}: no DHCP/DNS server (NetworkManager's dnsmasq is not running: {pid_file})",
            "sudo apt install dnsmasq-base, then sudo nmcli connection up booth-hotspot",
        )
    leases_file = probe.nm_state_dir / f"dnsmasq-{device}.leases"
    try:
        leases = sum(1 for line in leases_file.read_text().splitlines() if line.strip())
    except OSError:
        leases = 0
    # DNS: a name nobody owns must be the booth
    import secrets as _secrets

    name = f"doctor-{_secrets.token_hex(4)}.example"
    try:
        answers = dns_query_a(address, name, probe.hotspot_timeout_s)
    except (OSError, IndexError, ValueError) as exc:
        return Check(
            "hotspot",
            FAIL,
            f"{where}: DNS does not answer ({exc})",
            "sudo nmcli connection up booth-hotspot (NetworkManager restarts dnsmasq)",
        )
    if answers != [address]:
        return Check(
            "hotspot",
            FAIL,
            f"{where}: DNS answers {name} with {', '.join(answers) or 'nothing'}, not the booth",
            "re-run deploy/install.sh --hotspot (writes /etc/NetworkManager/"
            "dnsmasq-shared.d/booth-hotspot.conf), then sudo nmcli connection up "
            "booth-hotspot",
        )
    # the portal, on port 80 as phones reach it
    try:
        android = _http_get(
            address, "connectivitycheck.gstatic.com", "/generate_204", probe.hotspot_timeout_s
        )
        apple = _http_get(
            address, "captive.apple.com", "/hotspot-detect.html", probe.hotspot_timeout_s
        )
    except OSError as exc:
        return Check(
            "hotspot",
            FAIL,
            f"{where}: port 80 does not reach the share server ({exc.strerror or exc})",
            "sudo nft -f /etc/booth/hotspot.nft (the "
            "NetworkManager dispatcher loads it when the hotspot comes up); "
            "is booth-share running? (systemctl status booth-share)",
        )
    if android[0] != 204 or b"Success" not in apple[1]:
        return Check(
            "hotspot",
            FAIL,
            f"{where}: the share server answers phones' checks "
            f"wrongly (Android {android[0]}, Apple {apple[0]}): the portal is off",
            "restart booth-share (it reads /etc/booth/hotspot.env: BOOTH_PORTAL=1)",
        )
    from jobstore.links import public_base_url

    host = urlsplit(public_base_url(cfg)).hostname
    found = (
        f"{where}; DHCP up ({leases} lease{'s' if leases != 1 else ''}); DNS answers "
        f"every name with {address}; portal answers on port 80"
    )
    if host != address:
        return Check(
            "hotspot",
            WARN,
            f"{found}; but the QR links point at {host}",
            "add --env-file /etc/booth/hotspot.env to doctor (the kiosk reads it); "
            "without it, re-run deploy/install.sh --hotspot",
        )
    return Check("hotspot", OK, found)
