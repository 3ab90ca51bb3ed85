"""install.sh --hotspot / --no-hotspot in a throwaway root: the NetworkManager profile, the DNS,
firewall and dispatcher files and the booth config they feed, parsed; idempotent and reversible."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from appliance.doctor import read_env_file
from booth.config import load_config
from tests.deploy.deploytools import run_install, snapshot

PROFILE = "etc/NetworkManager/system-connections/booth-hotspot.nmconnection"
DNSMASQ = "etc/NetworkManager/dnsmasq-shared.d/booth-hotspot.conf"
DISPATCHER = "etc/NetworkManager/dispatcher.d/90-booth-hotspot"
NFT = "etc/booth/hotspot.nft"
ENV = "etc/booth/hotspot.env"
WRITTEN = (PROFILE, DNSMASQ, DISPATCHER, NFT, ENV)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class CaseSensitive(configparser.ConfigParser):
    """Keys keep their case: they are case-sensitive in keyfiles."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def keyfile(root: Path) -> configparser.ConfigParser:
    """The profile as an INI file, the way NetworkManager's keyfile plugin reads it."""
    ini = CaseSensitive(interpolation=None)
    ini.read_string((root / PROFILE).read_text())
    return ini


def booth_config(root: Path):
    """The config booth-kiosk / booth-share load: booth.toml plus hotspot.env (systemd rules)."""
    env = {"BOOTH_MQTT_URL": "mqtt://127.0.0.1:1", **read_env_file(root / ENV)}
    return load_config(root / "etc/booth/booth.toml", env=env)


def dnsmasq_options(root: Path) -> list[str]:
    return [
        line.strip()
        for line in (root / DNSMASQ).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_hotspot_writes_profile_dns_portal_and_config_then_changes_nothing(tmp_path):
    root = tmp_path / "root"
    first = run_install(
        root, "--booth-id", "b1", "--hotspot", "Drip Booth", "--hotspot-password", "confetti 2026!"
    )
    for rel in WRITTEN:
        assert f"changed: wrote /{rel}" in first.stdout, rel
    assert "dry: would run: nmcli connection reload" in first.stdout
    assert "dry: would run: nmcli connection up booth-hotspot" in first.stdout

    ini = keyfile(root)
    assert ini["connection"]["id"] == "booth-hotspot"
    assert ini["connection"]["type"] == "wifi"
    assert ini["connection"]["interface-name"] == "wlan0"
    assert ini["connection"]["autoconnect"] == "true"
    assert int(ini["connection"]["autoconnect-priority"]) > 0
    assert len(ini["connection"]["uuid"]) == 36
    assert ini["wifi"]["mode"] == "ap"
    assert ini["wifi"]["ssid"] == "Drip Booth"
    assert ini["wifi"]["band"] == "bg"
    assert ini["wifi-security"]["key-mgmt"] == "wpa-psk"
    assert ini["wifi-security"]["psk"] == "confetti 2026!"
    assert ini["wifi-security"]["proto"] == "rsn"
    assert ini["ipv4"]["method"] == "shared"
    assert ini["ipv4"]["address1"] == "10.42.0.1/24"
    assert ini["ipv6"]["method"] == "disabled"
    # NetworkManager ignores a keyfile others can read: it holds the password.
    assert mode(root / PROFILE) == 0o600
    assert mode(root / ENV) == 0o600
    assert mode(root / DISPATCHER) == 0o755
    assert mode(root / DNSMASQ) == 0o644

    opts = dnsmasq_options(root)
    assert "address=/#/10.42.0.1" in opts  # every name is the booth
    assert "local=/#/" in opts  # other record types answered here, never upstream
    assert "no-resolv" in opts
    assert "host-record=booth.lan,10.42.0.1" in opts
    assert "address=/dns.msftncsi.com/131.107.255.255" in opts

    nft = (root / NFT).read_text()
    assert 'iifname "wlan0" tcp dport 80 redirect to :8080' in nft  # share.port of booth.toml
    assert "ip daddr 10.42.0.1 tcp dport 80 redirect to :8080" in nft
    assert 'iifname "wlan0" drop' in nft
    assert (root / DISPATCHER).read_text().count("booth-hotspot") >= 1
    assert "nft -f /etc/booth/hotspot.nft" in (root / DISPATCHER).read_text()

    cfg = booth_config(root)
    assert cfg.share.wifi_ssid == "Drip Booth"
    assert cfg.share.wifi_password == "confetti 2026!"
    assert cfg.share.public_url == "http://10.42.0.1"
    assert cfg.share.portal is True

    before = snapshot(root)
    second = run_install(
        root, "--booth-id", "b1", "--hotspot", "Drip Booth", "--hotspot-password", "confetti 2026!"
    )
    assert "install: done: no changes" in second.stdout, second.stdout
    assert "nmcli" not in second.stdout
    assert snapshot(root) == before


def test_later_runs_keep_the_hotspot_and_a_change_keeps_its_uuid(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--hotspot", "Drip Booth", "--hotspot-password", "confetti2026")
    uuid = keyfile(root)["connection"]["uuid"]
    before = snapshot(root)
    plain = run_install(root)  # an update without --hotspot must not drop the guests' Wi-Fi
    assert "booth Wi-Fi kept" in plain.stdout and "install: done: no changes" in plain.stdout
    assert snapshot(root) == before

    changed = run_install(
        root, "--hotspot", "Party Booth", "--hotspot-password", "sparkles99", "--hotspot-band", "5"
    )
    assert f"changed: wrote /{PROFILE}" in changed.stdout
    assert "dry: would run: nmcli connection up booth-hotspot" in changed.stdout
    ini = keyfile(root)
    assert ini["connection"]["uuid"] == uuid  # the same profile, updated in place
    assert ini["wifi"]["ssid"] == "Party Booth" and ini["wifi"]["band"] == "a"
    cfg = booth_config(root)
    assert (cfg.share.wifi_ssid, cfg.share.wifi_password) == ("Party Booth", "sparkles99")


def test_open_network_and_share_port_from_booth_toml(tmp_path):
    root = tmp_path / "root"
    run_install(root)
    toml = root / "etc/booth/booth.toml"
    toml.write_text(toml.read_text().replace("port = 8080", "port = 9090"))
    out = run_install(root, "--hotspot", "Booth", "--hotspot-ifname", "wlan1")
    assert "is an open network" in out.stdout
    ini = keyfile(root)
    assert "wifi-security" not in ini
    assert ini["connection"]["interface-name"] == "wlan1"
    nft = (root / NFT).read_text()
    assert 'iifname "wlan1" tcp dport 80 redirect to :9090' in nft
    cfg = booth_config(root)
    assert cfg.share.wifi_ssid == "Booth" and cfg.share.wifi_password == ""
    assert cfg.share.port == 9090


def test_no_hotspot_removes_everything_it_wrote(tmp_path):
    root = tmp_path / "root"
    run_install(root, "--hotspot", "Drip Booth", "--hotspot-password", "confetti2026")
    out = run_install(root, "--no-hotspot")
    for rel in WRITTEN:
        assert f"changed: removed /{rel}" in out.stdout, rel
        assert not (root / rel).exists(), rel
    assert "dry: would run: nmcli connection down booth-hotspot" in out.stdout
    assert "dry: would run: nft delete table ip booth_hotspot" in out.stdout
    cfg = load_config(root / "etc/booth/booth.toml", env={"BOOTH_MQTT_URL": "mqtt://h:1"})
    assert cfg.share.wifi_ssid == "" and cfg.share.portal is False
    again = run_install(root, "--no-hotspot")
    assert "no booth Wi-Fi to remove" in again.stdout
    assert "install: done: no changes" in again.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hotspot", "x" * 33], "1-32 bytes"),
        (["--hotspot", ""], "1-32 bytes"),
        (["--hotspot", "Anna's booth"], "no quotes"),
        (["--hotspot", " Booth"], "spaces at either end"),
        (["--hotspot", "Booth", "--hotspot-password", "short"], "8-63"),
        (["--hotspot", "Booth", "--hotspot-password", "p" * 64], "8-63"),
        (["--hotspot", "Booth", "--hotspot-password", "pässwort1"], "printable ASCII"),
        (["--hotspot", "Booth", "--hotspot-password", "back\\slash1"], "backslashes"),
        (["--hotspot", "Booth", "--hotspot-band", "6"], "use 2.4 or 5"),
        (["--hotspot", "Booth", "--hotspot-ifname", "wlan0;reboot"], "bad --hotspot-ifname"),
        (["--hotspot-password", "confetti2026"], "need --hotspot SSID"),
    ],
)
def test_bad_hotspot_options_are_refused_before_anything_is_written(tmp_path, args, message):
    root = tmp_path / "root"
    out = run_install(root, *args, check=False)
    assert out.returncode == 2
    assert message in out.stderr
    assert not root.exists()
