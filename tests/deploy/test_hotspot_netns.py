"""The booth Wi-Fi in Linux network namespaces. No radio here: a veth pair stands in for the Wi-Fi
link (the booth's end is named wlan0, like the Pi's, so the installed firewall rules apply as
they are).

- booth namespace: the files `install.sh --hotspot` wrote, used as written: dnsmasq started with
  the options NetworkManager's shared mode passes (nm-dnsmasq-manager.c: --conf-file=/dev/null
  --no-hosts --keep-in-foreground --bind-interfaces --except-interface=lo --clear-on-reload
  --strict-order --listen-address --dhcp-range (nm-dnsmasq-utils.c's range for 10.42.0.1/24)
  --dhcp-option=option:router --dhcp-leasefile --pid-file --conf-dir=<dnsmasq-shared.d>; only
  the lease/pid/log paths point into the test's folder), the nftables rules the dispatcher
  loads, and the real `booth share` process with the config hotspot.env gives it;
- client namespace (the phone): busybox udhcpc gets an address, glibc resolves with the DNS
  server it learned, and tests/deploy/netns_client.py runs each OS check by name on port 80;
- uplink namespace: a test host behind the booth (the worker's Ethernet), which guests must not
  reach although forwarding is on, as in NetworkManager's shared mode.

What only real Wi-Fi and phones can show (docs/deploy.md): the radio and WPA2 association,
the OSes' reaction to these answers, and the phones' QR scanners.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import doctor
from appliance.doctor import read_env_file
from booth.config import load_config
from jobstore.ledger import Ledger, ledger_path
from tests.deploy.deploytools import REPO, run_install
from tests.share.helpers import PORTRAIT, add_job

pytestmark = [pytest.mark.slow, pytest.mark.netns]

BOOTH_IP = "10.42.0.1"
UPLINK_BOOTH, UPLINK_HOST = "10.99.0.1", "10.99.0.2"
TOOLS = ("ip", "dnsmasq", "udhcpc", "nft")


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr}")
    return out


def in_ns(ns: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *argv, **kw)


def _netns_usable() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"t16probe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


UDHCPC_SCRIPT = """#!/bin/sh
# busybox udhcpc calls this with the lease in the environment; configure the link like a phone.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    { echo "ip=$ip"; echo "router=$router"; echo "dns=$dns"; echo "lease=$lease"; } > "$LEASE_OUT"
    ;;
esac
exit 0
"""


class Hotspot:
    """The three namespaces and the booth's processes; `close` undoes everything."""

    def __init__(self, tmp: Path) -> None:
        tag = secrets.token_hex(3)
        self.booth, self.phone, self.uplink = f"hs-booth-{tag}", f"hs-phone-{tag}", f"hs-up-{tag}"
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.netns_etc = Path("/etc/netns") / self.phone

    def start_namespaces(self) -> None:
        for ns in (self.booth, self.phone, self.uplink):
            sh("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
        # the "Wi-Fi": booth wlan0 <-> phone eth0; the uplink: booth eth0 <-> test host eth0
        sh(
            "ip",
            "link",
            "add",
            "wlan0",
            "netns",
            self.booth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.phone,
        )
        sh(
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            self.booth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.uplink,
        )
        in_ns(self.booth, "ip", "addr", "add", f"{BOOTH_IP}/24", "dev", "wlan0")
        in_ns(self.booth, "ip", "addr", "add", f"{UPLINK_BOOTH}/24", "dev", "eth0")
        in_ns(self.uplink, "ip", "addr", "add", f"{UPLINK_HOST}/24", "dev", "eth0")
        for ns, dev in (
            (self.booth, "wlan0"),
            (self.booth, "eth0"),
            (self.phone, "eth0"),
            (self.uplink, "eth0"),
        ):
            in_ns(ns, "ip", "link", "set", dev, "up")
        in_ns(self.uplink, "ip", "route", "add", "10.42.0.0/24", "via", UPLINK_BOOTH)
        # NetworkManager's shared mode turns forwarding on; the booth's rules must still block it
        in_ns(self.booth, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def spawn(
        self, ns: str, argv: list[str], log: Path, env: dict | None = None
    ) -> subprocess.Popen:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            env=env,
            cwd=REPO,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
        for ns in (self.booth, self.phone, self.uplink):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.netns_etc, ignore_errors=True)
        try:
            self.netns_etc.parent.rmdir()  # only when no other namespace keeps files there
        except OSError:
            pass


def wait_for_line(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {path}:\n{path.read_text(errors='replace')}")


@pytest.fixture
def hotspot(tmp_path):
    why = _netns_usable()
    if why:
        pytest.skip(why)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"missing {missing}: deploy/setup-dev.sh --test installs dnsmasq-base, "
            "udhcpc and nftables"
        )
    hs = Hotspot(tmp_path)
    try:
        hs.start_namespaces()
        yield hs
    finally:
        hs.close()


def test_a_phone_joins_resolves_passes_every_check_and_downloads(tmp_path, hotspot):
    hs = hotspot
    root = tmp_path / "root"
    run_install(
        root, "--booth-id", "b1", "--hotspot", "Drip Booth", "--hotspot-password", "confetti2026"
    )
    nm_confdir = root / "etc/NetworkManager/dnsmasq-shared.d"
    hotspot_env = read_env_file(root / "etc/booth/hotspot.env")

    # the booth's firewall rules, as the dispatcher loads them when the hotspot comes up
    in_ns(hs.booth, "nft", "-f", str(root / "etc/booth/hotspot.nft"))
    # a test host behind the booth, and proof that the booth really forwards to it without
    # our rules (so the "blocked" below is the rules' doing)
    listener = hs.spawn(
        hs.uplink,
        [
            sys.executable,
            "-c",
            "import socket,time\ns=socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            f"s.bind(('{UPLINK_HOST}',8000));s.listen(8);time.sleep(600)",
        ],
        tmp_path / "uplink.log",
    )
    assert listener.poll() is None

    # DHCP + DNS exactly as NetworkManager's shared mode starts them
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dnsmasq = hs.spawn(
        hs.booth,
        [
            "dnsmasq",
            "--conf-file=/dev/null",
            "--no-hosts",
            "--keep-in-foreground",
            "--bind-interfaces",
            "--except-interface=lo",
            "--clear-on-reload",
            "--strict-order",
            f"--listen-address={BOOTH_IP}",
            "--dhcp-range=10.42.0.10,10.42.0.254,60m",
            f"--dhcp-option=option:router,{BOOTH_IP}",
            f"--dhcp-leasefile={run_dir}/dnsmasq-wlan0.leases",
            f"--pid-file={run_dir}/nm-dnsmasq-wlan0.pid",
            f"--conf-dir={nm_confdir}",
            f"--log-facility={run_dir}/dnsmasq.log",
        ],
        tmp_path / "dnsmasq.out",
    )

    # the real share server in the booth namespace, configured like booth-share.service
    data = tmp_path / "data"
    env = {
        **os.environ,
        **hotspot_env,
        "BOOTH_DATA_DIR": str(data),
        "BOOTH_ID": "b1",
        "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
        "PYTHONPATH": str(REPO),
    }
    env.pop("BOOTH_ADMIN_PASSWORD", None)
    cfg = load_config(root / "etc/booth/booth.toml", env=env)
    assert cfg.share.portal and cfg.share.public_url == f"http://{BOOTH_IP}"
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        job = add_job(cfg, ledger)
    finally:
        ledger.close()
    share_log = tmp_path / "share.log"
    share = hs.spawn(
        hs.booth,
        [
            sys.executable,
            "-m",
            "appliance.cli",
            "share",
            "--config",
            str(root / "etc/booth/booth.toml"),
            "--no-mqtt",
            "--no-retention",
        ],
        share_log,
        env=env,
    )
    wait_for_line(share_log, "serving on", share, 30)
    assert dnsmasq.poll() is None, (tmp_path / "dnsmasq.out").read_text()

    # the phone joins: DHCP
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    lease_out = tmp_path / "lease.env"
    got = sh(
        "ip",
        "netns",
        "exec",
        hs.phone,
        "env",
        f"LEASE_OUT={lease_out}",
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-q",
        "-n",
        "-t",
        "10",
        "-T",
        "1",
        "-s",
        str(script),
        timeout=60,
    )
    lease = read_env_file(lease_out)
    assert lease["ip"].startswith("10.42.0.") and 10 <= int(lease["ip"].split(".")[-1]) <= 254
    assert lease["router"] == BOOTH_IP and lease["dns"] == BOOTH_IP, got.stdout + got.stderr
    assert int(lease["lease"]) == 3600  # NetworkManager's 60m
    # the resolver the phone's system uses: `ip netns exec` mounts this over /etc/resolv.conf
    hs.netns_etc.mkdir(parents=True)
    (hs.netns_etc / "resolv.conf").write_text(f"nameserver {lease['dns']}\n")

    link = f"{cfg.share.public_url}/p/{job.token}"
    out = in_ns(
        hs.phone,
        sys.executable,
        str(REPO / "tests/deploy/netns_client.py"),
        link,
        UPLINK_HOST,
        timeout=120,
    )
    phone = json.loads(out.stdout)

    # every name is the booth; Windows' DNS probe gets its own address; no IPv6 answers
    for name, addrs in phone["a"].items():
        expected = ["131.107.255.255"] if name == "dns.msftncsi.com" else [BOOTH_IP]
        assert addrs == expected, (name, addrs)
    assert all(v == "gaierror -5" for v in phone["aaaa"].values()), phone["aaaa"]  # NODATA
    checks = phone["checks"]
    assert checks["connectivitycheck.gstatic.com/generate_204"] == {"status": 204, "body": ""}
    assert checks["www.google.com/gen_204"]["status"] == 204
    assert checks["captive.apple.com/hotspot-detect.html"] == {
        "status": 200,
        "body": "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    }
    assert checks["www.msftconnecttest.com/connecttest.txt"]["body"] == "Microsoft Connect Test"
    assert checks["www.msftncsi.com/ncsi.txt"]["body"] == "Microsoft NCSI"
    assert checks["detectportal.firefox.com/success.txt"]["body"] == "success\n"
    assert (
        "support.mozilla.org/kb/captive-portal"
        in checks["detectportal.firefox.com/canonical.html"]["body"]
    )
    assert (
        checks["nmcheck.gnome.org/check_network_status.txt"]["body"] == "NetworkManager is online\n"
    )
    assert checks["example.org/"]["status"] == 404
    assert "scan the photo QR code on the booth screen" in checks["example.org/"]["body"]
    # Android's HTTPS probe fails at once (refused), never hangs
    assert phone["https_probe"]["result"] == "refused" and phone["https_probe"]["seconds"] < 2
    # the guest's photo by its link
    assert phone["page"]["status"] == 200 and f"/p/{job.token}/photo.jpg" in phone["page"]["body"]
    assert phone["photo"]["status"] == 200
    assert phone["photo"]["sha256"] == hashlib.sha256(PORTRAIT.read_bytes()).hexdigest()
    assert phone["photo"]["disposition"].startswith("attachment")
    # guests reach only the booth; a hard-coded DNS server is answered by the booth
    assert phone["behind_booth"]["result"] != "connected", phone["behind_booth"]
    assert phone["fixed_dns"] == [BOOTH_IP], phone["fixed_dns"]
    assert lease["ip"] in (run_dir / "dnsmasq-wlan0.leases").read_text()

    # without the booth's rules the same phone would reach the uplink: the block above is real
    in_ns(hs.booth, "nft", "delete", "table", "ip", "booth_hotspot")
    unblocked = in_ns(
        hs.phone,
        sys.executable,
        "-c",
        f"import socket;socket.create_connection(('{UPLINK_HOST}',8000),timeout=3);print('ok')",
        check=False,
    )
    assert unblocked.stdout.strip() == "ok", unblocked.stderr

    # booth doctor's hotspot check, run on the booth; nmcli is the one stand-in (no
    # NetworkManager here): it prints what nmcli -t prints for an active access point
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "nmcli").write_text(
        "#!/bin/sh\nprintf 'GENERAL.STATE:activated\\nGENERAL.DEVICES:wlan0\\n"
        f"IP4.ADDRESS[1]:{BOOTH_IP}/24\\n'\n"
    )
    (fake_bin / "nmcli").chmod(0o755)
    doctor_code = (
        "import json,sys\nfrom pathlib import Path\nfrom appliance import doctor\n"
        "from booth.config import load_config\n"
        f"cfg=load_config({str(root / 'etc/booth/booth.toml')!r})\n"
        f"p=doctor.Probe(nm_run_dir=Path({str(run_dir)!r}),nm_state_dir=Path({str(run_dir)!r}))\n"
        "c=doctor.check_hotspot(cfg,p);print(json.dumps([c.level,c.found,c.fix]))\n"
    )
    denv = {**env, "PATH": f"{fake_bin}:{os.environ['PATH']}"}

    def run_doctor() -> list[str]:
        res = subprocess.run(
            ["ip", "netns", "exec", hs.booth, sys.executable, "-c", doctor_code],
            capture_output=True,
            text=True,
            env=denv,
            cwd=REPO,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    level, found, _ = run_doctor()  # the rules are off: port 80 does not reach the server
    assert level == doctor.FAIL and "port 80 does not reach the share server" in found
    in_ns(hs.booth, "nft", "-f", str(root / "etc/booth/hotspot.nft"))
    level, found, _ = run_doctor()
    assert level == doctor.OK, found
    assert f"at {BOOTH_IP}" in found and "DHCP up (1 lease)" in found
    assert f"DNS answers every name with {BOOTH_IP}" in found and "portal answers" in found
