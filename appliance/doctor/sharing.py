"""Checks of the guests' way to their photo: the QR's address, the share server on its port,
and the cloud bucket when [cloud] is on."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from urllib.parse import urlsplit

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config


# ------------------------------------------------------------------------------- share URL
def address_is_local(ip: str) -> bool:
    """True when this machine owns `ip`: binding to a foreign address fails (EADDRNOTAVAIL)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def check_share_url(cfg: Config, probe: Probe) -> Check:
    from jobstore.links import public_base_url

    base = public_base_url(cfg)
    host = urlsplit(base).hostname or ""
    if not host:
        return Check(
            "share url",
            FAIL,
            f"share.public_url {base!r} has no host",
            "set share.public_url to http://<booth address>:8080",
        )
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        # IPv4/IPv6 give the address as a str (the int of the typing is for other families)
        addrs = sorted({ai[4][0] for ai in found if isinstance(ai[4][0], str)})
    except OSError:
        return Check(
            "share url",
            WARN,
            f"{base}: {host} does not resolve here",
            "phones must resolve it: use the booth's IP address or a name the Wi-Fi's DNS knows",
        )
    if any(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        return Check(
            "share url",
            FAIL,
            f"{base} is a loopback address: phones cannot reach it",
            "connect the booth to the guests' Wi-Fi, or set share.public_url",
        )
    listen = cfg.share.host
    if listen not in ("", "0.0.0.0", "::") and listen not in addrs:
        return Check(
            "share url",
            FAIL,
            f"the QR points at {base} but the share server listens on {listen} only",
            'set share.host = "0.0.0.0" (all addresses) or to the address in share.public_url',
        )
    local = [a for a in addrs if address_is_local(a.split("%")[0])]
    if not local:
        return Check(
            "share url",
            FAIL,
            f"{base}: {', '.join(addrs)} is not an address of this machine",
            "set share.public_url to this machine's LAN address (`hostname "
            "-I`), or leave it empty to use it automatically",
        )
    return Check("share url", OK, f"{base} ({', '.join(local)} is on this machine)")


# ------------------------------------------------------------------------------- share server
def check_share_server(cfg: Config, probe: Probe) -> Check:
    """Something answers on share.port, and it is this booth's share server (its /healthz names
    the booth and, to a client on this machine, the data dir)."""
    import json
    import urllib.error
    import urllib.request

    host = cfg.share.host if cfg.share.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{cfg.share.port}/healthz"
    fix = (
        "start it: sudo systemctl start booth-share (or `booth up`); `journalctl -u "
        "booth-share -b` says why it stopped"
    )
    try:
        with urllib.request.urlopen(url, timeout=probe.broker_timeout_s) as r:
            status, body = r.status, r.read(4096)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(4096)
    except OSError as exc:
        why = getattr(exc, "reason", None) or exc
        why = getattr(why, "strerror", None) or why
        return Check(
            "share server",
            FAIL,
            f"nothing answers on {host}:{cfg.share.port} "
            f"({why}): the guests' QR links lead nowhere",
            fix,
        )
    try:
        said = json.loads(body or b"{}")
    except ValueError:
        said = None
    if not isinstance(said, dict) or "booth_id" not in said:
        return Check(
            "share server",
            FAIL,
            f"{host}:{cfg.share.port} answers, but it is not a "
            f"booth's share server (HTTP {status})",
            "free share.port for booth-share, or give it another port (share.port)",
        )
    if said["booth_id"] != cfg.booth_id or (
        said.get("data_dir")
        and Path(str(said["data_dir"])).resolve() != Path(cfg.data_dir).resolve()
    ):
        return Check(
            "share server",
            FAIL,
            f"the share server on port {cfg.share.port} serves "
            f"booth {said['booth_id']!r} from {said.get('data_dir', '?')}, not this "
            "booth: its links would not open this booth's photos",
            "stop that server, or give this booth its own share.port",
        )
    if not said.get("ok"):
        return Check(
            "share server",
            FAIL,
            f"the share server on port {cfg.share.port} cannot "
            f"read its ledger ({said.get('ledger', 'HTTP ' + str(status))})",
            "sudo systemctl restart booth-share (a damaged ledger is rebuilt)",
        )
    return Check(
        "share server", OK, f"this booth's share server answers on {host}:{cfg.share.port}"
    )


# ------------------------------------------------------------------------------- cloud
def check_cloud(cfg: Config, probe: Probe) -> Check:
    """The bucket, when [cloud] is on: see share/cloud_check.py."""
    from share.cloud_check import bucket_check

    level, found, fix = bucket_check(cfg, probe.now(), probe.api_timeout_s)
    return Check("cloud", level, found, fix)
