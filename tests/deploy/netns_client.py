"""What a phone does on the booth Wi-Fi, run inside the test's client network namespace
(tests/deploy/test_hotspot_netns.py): resolve names with the system resolver (the DNS server
learned by DHCP), run each OS's connectivity check by name on port 80, try Android's HTTPS probe,
download the guest's photo by its link, and try to reach past the booth. Prints one JSON object.

argv: public link of the photo, an address behind the booth (the uplink test host).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import sys
import time
import urllib.request

NAMES = [
    "connectivitycheck.gstatic.com",
    "www.google.com",
    "captive.apple.com",
    "www.msftconnecttest.com",
    "detectportal.firefox.com",
    "nmcheck.gnome.org",
    "booth.lan",
    "example.org",
    "anything-at-all.test",
    "dns.msftncsi.com",
]
CHECKS = [
    ("connectivitycheck.gstatic.com", "/generate_204"),
    ("www.google.com", "/gen_204"),
    ("captive.apple.com", "/hotspot-detect.html"),
    ("www.msftconnecttest.com", "/connecttest.txt"),
    ("www.msftncsi.com", "/ncsi.txt"),
    ("detectportal.firefox.com", "/canonical.html"),
    ("detectportal.firefox.com", "/success.txt"),
    ("nmcheck.gnome.org", "/check_network_status.txt"),
    ("example.org", "/"),
]


def resolve(name: str, family: int) -> list[str] | str:
    try:
        found = socket.getaddrinfo(name, 80, family, socket.SOCK_STREAM)
        return sorted({a[4][0] for a in found if isinstance(a[4][0], str)})  # IPv4/IPv6: str
    except socket.gaierror as exc:
        return f"gaierror {exc.errno}"


def http_by_name(host: str, path: str) -> dict:
    conn = http.client.HTTPConnection(host, 80, timeout=10)  # resolved by the system resolver
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return {"status": resp.status, "body": resp.read().decode("utf-8", "replace")}
    finally:
        conn.close()


def connect(host: str, port: int, timeout: float) -> dict:
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            result = "connected"
    except ConnectionRefusedError:
        result = "refused"
    except OSError as exc:
        result = type(exc).__name__
    return {"result": result, "seconds": round(time.monotonic() - start, 3)}


def fixed_dns(server: str) -> list[str] | str:
    """A phone with a hard-coded DNS server: the query goes to `server`, the booth answers."""
    from appliance.doctor import dns_query_a

    try:
        return dns_query_a(server, "fixed-dns.example", 3)
    except OSError as exc:
        return type(exc).__name__


def main() -> None:
    link, behind = sys.argv[1], sys.argv[2]
    out: dict = {
        "a": {n: resolve(n, socket.AF_INET) for n in NAMES},
        "aaaa": {n: resolve(n, socket.AF_INET6) for n in NAMES[:3]},
        "checks": {f"{h}{p}": http_by_name(h, p) for h, p in CHECKS},
        "https_probe": connect("www.google.com", 443, 5),
        "behind_booth": connect(behind, 8000, 2),
        "fixed_dns": fixed_dns(behind),
    }
    with urllib.request.urlopen(link, timeout=10) as resp:
        out["page"] = {"status": resp.status, "body": resp.read().decode()}
    with urllib.request.urlopen(link + "/photo.jpg?dl=1", timeout=10) as resp:
        data = resp.read()
        out["photo"] = {
            "status": resp.status,
            "sha256": hashlib.sha256(data).hexdigest(),
            "disposition": resp.headers.get("Content-Disposition", ""),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
