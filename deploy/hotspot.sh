# shellcheck shell=bash
# Variables and helpers come from install.sh, which sources this file:
# shellcheck disable=SC2154
# Drip Me Out: the booth's own Wi-Fi, sourced by deploy/install.sh (--hotspot / --no-hotspot).
#
# The Pi's Wi-Fi becomes an access point through NetworkManager (Raspberry Pi OS Bookworm and
# Trixie): a connection profile in AP mode with `ipv4.method=shared`, which makes NetworkManager
# run dnsmasq for DHCP and DNS on the hotspot and read /etc/NetworkManager/dnsmasq-shared.d/*.conf
# (nm-dnsmasq-manager.c passes --conf-dir for that directory). Written here:
#
#   /etc/NetworkManager/system-connections/booth-hotspot.nmconnection  the profile (root, 0600)
#   /etc/NetworkManager/dnsmasq-shared.d/booth-hotspot.conf  every name answers with the booth
#   /etc/booth/hotspot.nft             port 80 -> share.port, DNS -> the booth, no forwarding
#   /etc/NetworkManager/dispatcher.d/90-booth-hotspot  loads/removes those rules with the profile
#   /etc/booth/hotspot.env             the kiosk's join QR, the download links and the portal
#                                      follow the hotspot (read by booth-kiosk and booth-share)
#
# Uses install.sh's helpers (put_file, system, log, changed) and variables (root, dry, here).

HOTSPOT_ID=booth-hotspot
HOTSPOT_ADDRESS=10.42.0.1       # NetworkManager's own default for shared mode, made explicit
HOTSPOT_PREFIX=24
HOTSPOT_NAME=booth.lan          # the short name (any name works: DNS answers all with the booth)
HOTSPOT_TABLE=booth_hotspot     # our nftables table; NetworkManager's own rules are separate

hotspot_check_options() {
    if [[ "$hotspot_mode" != on ]]; then
        if [[ -n "$hotspot_password" || "$hotspot_band" != bg || "$hotspot_ifname" != wlan0 ]]; then
            echo "install: --hotspot-password/-band/-ifname need --hotspot SSID" >&2; exit 2
        fi
        return 0
    fi
    local ssid_bytes
    ssid_bytes=$(printf '%s' "$hotspot_ssid" | wc -c)
    # Quotes and backslashes would need escaping in three file formats: refused instead.
    if ((ssid_bytes < 1 || ssid_bytes > 32)) || [[ "$hotspot_ssid" =~ [[:cntrl:]\'\"\\] ]] ||
        [[ "$hotspot_ssid" =~ ^[[:space:]] || "$hotspot_ssid" =~ [[:space:]]$ ]]; then
        echo "install: bad --hotspot name '$hotspot_ssid': 1-32 bytes, no quotes, backslashes," \
            "control characters or spaces at either end" >&2
        exit 2
    fi
    if [[ -n "$hotspot_password" ]]; then
        if ((${#hotspot_password} < 8 || ${#hotspot_password} > 63)) ||
            ! [[ "$hotspot_password" =~ ^[\ -~]+$ ]] ||
            [[ "$hotspot_password" =~ [\'\"\\] ]] ||
            [[ "$hotspot_password" =~ ^\  || "$hotspot_password" =~ \ $ ]]; then
            echo "install: bad --hotspot-password: WPA2 needs 8-63 printable ASCII characters" \
                "(no quotes, backslashes, or spaces at either end)" >&2
            exit 2
        fi
    fi
    case "$hotspot_band" in
        2.4|bg) hotspot_band="bg" ;;
        5|a) hotspot_band="a" ;;
        *) echo "install: bad --hotspot-band $hotspot_band: use 2.4 or 5" >&2; exit 2 ;;
    esac
    if ! [[ "$hotspot_ifname" =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; then
        echo "install: bad --hotspot-ifname $hotspot_ifname" >&2; exit 2
    fi
}

hotspot_paths() {
    hs_profile="$root/etc/NetworkManager/system-connections/$HOTSPOT_ID.nmconnection"
    hs_dnsmasq="$root/etc/NetworkManager/dnsmasq-shared.d/$HOTSPOT_ID.conf"
    hs_dispatcher="$root/etc/NetworkManager/dispatcher.d/90-$HOTSPOT_ID"
    hs_nft="$root/etc/booth/hotspot.nft"
    hs_env="$root/etc/booth/hotspot.env"
}

# The profile as NetworkManager's keyfile plugin reads it (INI; `nmcli connection reload`).
hotspot_profile() {
    local uuid=$1
    cat <<EOF
# Drip Me Out booth Wi-Fi, written by deploy/install.sh --hotspot (--no-hotspot removes it).
[connection]
id=$HOTSPOT_ID
uuid=$uuid
type=wifi
interface-name=$hotspot_ifname
autoconnect=true
# Wins over a client profile for the same interface at boot.
autoconnect-priority=100

[wifi]
mode=ap
ssid=$hotspot_ssid
band=$hotspot_band
# 2 = off: power saving on the Pi's radio adds latency for every guest.
powersave=2
EOF
    if [[ -n "$hotspot_password" ]]; then
        # WPA2 with CCMP only: the Pi's brcmfmac access point does not offer TKIP.
        cat <<EOF

[wifi-security]
key-mgmt=wpa-psk
proto=rsn
pairwise=ccmp
group=ccmp
psk=$hotspot_password
EOF
    fi
    cat <<EOF

[ipv4]
# shared: NetworkManager runs dnsmasq (DHCP + DNS) on this interface.
method=shared
address1=$HOTSPOT_ADDRESS/$HOTSPOT_PREFIX

[ipv6]
method=disabled
EOF
}

hotspot_dnsmasq_conf() {
    cat <<EOF
# Drip Me Out booth Wi-Fi (deploy/install.sh --hotspot). NetworkManager's shared-mode dnsmasq
# reads this directory; it is the DNS of every phone on the hotspot.
# Every name is the booth, so any plain-http address a phone or an OS check opens reaches the
# share server's captive portal (share/portal.py).
address=/#/$HOTSPOT_ADDRESS
# Answer other record types (AAAA, ...) with "no data" here instead of asking upstream, which
# would otherwise refuse them: phones get a clean IPv4-only answer at once.
local=/#/
# The booth's short name, with a reverse entry for its address.
host-record=$HOTSPOT_NAME,$HOTSPOT_ADDRESS
# Windows' DNS check expects this exact address (NCSI); the rest of its check is HTTP.
address=/dns.msftncsi.com/131.107.255.255
# Never forward guests' queries to the uplink's resolvers.
no-resolv
EOF
}

hotspot_nft_rules() {
    cat <<EOF
#!/usr/sbin/nft -f
# Drip Me Out booth Wi-Fi (deploy/install.sh --hotspot), loaded while the hotspot is up by
# /etc/NetworkManager/dispatcher.d/90-$HOTSPOT_ID.
# - Phones' connectivity checks and typed addresses use port 80; the share server runs
#   unprivileged on $hotspot_share_port. Redirect instead of granting it a privileged port.
# - DNS sent to any server is answered by the booth's dnsmasq (phones with a fixed DNS server).
# - Guests reach only the booth: nothing from the hotspot is forwarded to the uplink (the
#   worker's Ethernet or second Wi-Fi), whatever NetworkManager's shared mode allows.
table ip $HOTSPOT_TABLE
delete table ip $HOTSPOT_TABLE
table ip $HOTSPOT_TABLE {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "$hotspot_ifname" tcp dport 80 redirect to :$hotspot_share_port
		iifname "$hotspot_ifname" udp dport 53 redirect to :53
		iifname "$hotspot_ifname" tcp dport 53 redirect to :53
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr $HOTSPOT_ADDRESS tcp dport 80 redirect to :$hotspot_share_port
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "$hotspot_ifname" drop
	}
}
EOF
}

hotspot_dispatcher() {
    cat <<EOF
#!/bin/sh
# Drip Me Out booth Wi-Fi (deploy/install.sh --hotspot): NetworkManager runs this on every
# connection change; it loads the hotspot's rules (/etc/booth/hotspot.nft) while it is up.
[ "\$CONNECTION_ID" = "$HOTSPOT_ID" ] || exit 0
case "\$2" in
    up) [ -r /etc/booth/hotspot.nft ] && exec nft -f /etc/booth/hotspot.nft ;;
    down|pre-down) nft delete table ip $HOTSPOT_TABLE 2>/dev/null || true ;;
esac
exit 0
EOF
}

hotspot_env() {
    cat <<EOF
# Drip Me Out booth Wi-Fi (deploy/install.sh --hotspot; --no-hotspot removes this file).
# Read by booth-kiosk and booth-share: the join QR, the download links and the captive portal
# follow the hotspot. These win over booth.toml's share.* keys.
BOOTH_WIFI_SSID='$hotspot_ssid'
BOOTH_WIFI_PASSWORD='$hotspot_password'
BOOTH_PUBLIC_URL='http://$HOTSPOT_ADDRESS'
BOOTH_PORTAL='1'
EOF
}

hotspot_install() {
    hotspot_paths
    case "$hotspot_mode" in
        on) hotspot_write ;;
        off) hotspot_remove ;;
        keep)
            if [[ -f "$hs_profile" ]]; then
                log "booth Wi-Fi kept (${hs_profile#"$root"}; --no-hotspot removes it)"
            fi
            ;;
    esac
}

hotspot_write() {
    if ((!dry)) && ! systemctl is-active --quiet NetworkManager 2>/dev/null; then
        echo "install: --hotspot needs NetworkManager running (Raspberry Pi OS Bookworm or later:" \
            "sudo raspi-config -> Advanced -> Network Config -> NetworkManager)" >&2
        exit 1
    fi
    hotspot_share_port="$("${PYTHON:-python3}" - "$root/etc/booth/booth.toml" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get("share", {}).get("port", 8080))
EOF
)"
    local before=$changes uuid=""
    if [[ -f "$hs_profile" ]]; then uuid="$(sed -n 's/^uuid=//p' "$hs_profile")"; fi
    if [[ -z "$uuid" ]]; then uuid="$(cat /proc/sys/kernel/random/uuid)"; fi
    # Process substitution, not a pipe: put_file must run in this shell to count its changes.
    put_file "$hs_profile" root root 0600 < <(hotspot_profile "$uuid")
    put_file "$hs_dnsmasq" root root 0644 < <(hotspot_dnsmasq_conf)
    put_file "$hs_nft" root root 0644 < <(hotspot_nft_rules)
    put_file "$hs_dispatcher" root root 0755 < <(hotspot_dispatcher)
    put_file "$hs_env" root root 0600 < <(hotspot_env)
    if [[ -z "$hotspot_password" ]]; then
        log "warning: booth Wi-Fi '$hotspot_ssid' is an open network (--hotspot-password sets WPA2)"
    fi
    if ((changes != before)); then
        system nmcli connection reload
        log "starting the booth Wi-Fi on $hotspot_ifname: an SSH session over that Wi-Fi drops"
        log "now; reconnect through the hotspot ($hotspot_ssid) to $HOTSPOT_ADDRESS or $HOTSPOT_NAME"
        system nmcli connection up "$HOTSPOT_ID"
    fi
    log "booth Wi-Fi '$hotspot_ssid' on $hotspot_ifname: the booth is http://$HOTSPOT_ADDRESS" \
        "(http://$HOTSPOT_NAME) for guests; check it with booth doctor" \
        "--env-file /etc/booth/kiosk.env --env-file /etc/booth/hotspot.env"
}

hotspot_remove() {
    local f removed=0
    if [[ -f "$hs_profile" ]]; then
        system nmcli connection down "$HOTSPOT_ID" || true
    fi
    for f in "$hs_profile" "$hs_dnsmasq" "$hs_nft" "$hs_dispatcher" "$hs_env"; do
        if [[ -e "$f" ]]; then rm -f "$f"; changed "removed ${f#"$root"}"; removed=1; fi
    done
    if ((removed)); then
        system nft delete table ip "$HOTSPOT_TABLE" || true
        system nmcli connection reload
        log "booth Wi-Fi removed; the Wi-Fi interface is free for a client connection again"
    else
        log "no booth Wi-Fi to remove"
    fi
}
