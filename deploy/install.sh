#!/usr/bin/env bash
# Drip Me Out: install or update a booth on Raspberry Pi OS Bookworm (or Debian 12), as root:
#
#   sudo deploy/install.sh [--booth-id ID] [--lan] [--lan-port 1884] [--mqtt-port 1883]
#                          [--hotspot SSID [--hotspot-password P] [--hotspot-band 2.4|5]] [--no-hotspot]
#                          [--keep-desktop] [--printer | --no-printer]
#                          [--worker NAME …] [--remove-worker NAME]
#   (PYTHON=… picks the venv's interpreter; default python3, on a Pi the OS one with picamera2)
#
# Creates the booth user and /var/lib/booth, /etc/booth/{booth.toml,secrets.env,admin.env,
# cloud.env,kiosk.env,worker.env,share.env}, installs the Debian packages and a venv with the project,
# writes mosquitto's drop-in, password file and ACL, installs and enables the systemd units.
# Each unit reads only the env files its process needs: secrets.env (the Gemini key) only the
# worker, admin.env (the operator password) and cloud.env (the bucket key) only the share
# server, <role>.env (the MQTT login) its own role.
#
# The venv keeps the numpy of the OS (picamera2 is compiled against it; deploy/venv-lib.sh) and,
# on a Pi, the install fails if `from picamera2 import Picamera2` fails inside it. On a desktop
# image the boot target becomes the console so the kiosk gets the screen (--keep-desktop keeps
# the desktop). Run from tty1 (which the kiosk takes), it does not start the kiosk now.
#
# Idempotent: a second run changes nothing and says so. booth.toml, secrets.env, admin.env and
# the MQTT passwords are created once and never overwritten; generated files (units, mosquitto drop-in,
# ACL) are rewritten only when their content differs.
#
# --root DIR writes the whole tree under DIR instead of / (a throwaway root for tests and
# reviews). It implies a dry mode for system-level actions (users, apt, systemctl, the venv
# unless --venv is given): each is logged as "dry:" instead of run.
set -euo pipefail
# `… | put_file` must count its changes in this shell, not in a subshell of the pipe.
shopt -s lastpipe

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"

root=""
booth_id=""
mqtt_port=1883
lan=0
lan_port=1884
lan_name=""
lan_addresses=()
new_workers=()
drop_workers=()
with_venv=auto
pi=auto
hotspot_mode=keep      # keep | on | off (--hotspot / --no-hotspot)
hotspot_ssid=""
hotspot_password=""
hotspot_band="bg"
hotspot_ifname=wlan0
keep_desktop=0
printer_mode=keep     # keep | on | off (--printer / --no-printer)

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --root DIR        install into DIR (dry mode for users, packages, services)
  --booth-id ID     booth id for topics and the ACL (default: booth.toml's, else the hostname)
  --mqtt-port N     port of the localhost listener (default 1883)
  --lan             also listen on all addresses (port --lan-port) for worker machines:
                    TLS only (a CA and certificate made here), one login per machine
  --lan-port N      port of the LAN listener (default 1884)
  --lan-name NAME   the name workers reach this booth by (default: <hostname>.local)
  --lan-address IP  an address workers reach this booth at (repeatable; default: this
                    machine's addresses now)
  --worker NAME     a login for worker machine NAME (repeatable; needs --lan; existing
                    ones are kept): /etc/booth/workers/NAME.env and ca.crt to copy over
  --remove-worker NAME  revoke worker machine NAME's login
  --venv / --no-venv  build the venv even with --root / never build it
  --pi / --no-pi    force Raspberry Pi packages on or off (default: detect)
  --hotspot SSID    the Pi's Wi-Fi becomes the booth's own network (NetworkManager access point,
                    booth at 10.42.0.1 / booth.lan, every name answered with the booth, captive
                    portal); the join QR follows it. Kept by later runs without --hotspot.
  --hotspot-password P  WPA2 password, 8-63 characters (without it: an open network)
  --hotspot-band B  2.4 (default: every phone has it) or 5
  --hotspot-ifname I  the Wi-Fi interface for the hotspot (default wlan0)
  --no-hotspot      remove the hotspot and everything --hotspot wrote
  --keep-desktop    leave a desktop image's graphical boot alone (the kiosk then cannot
                    take the screen while the desktop runs)
  --printer         prints through CUPS: installs CUPS, its filters and Gutenprint (the
                    dye-sub drivers), lets the booth user manage its queue (group lpadmin) and
                    enables booth-printer (docs/printing.md adds the queue; [print] turns it
                    on). Kept by later runs without --printer.
  --no-printer      stop and disable booth-printer (CUPS stays installed)
EOF
}

while (($#)); do
    case "$1" in
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --booth-id) booth_id="${2:?--booth-id needs a value}"; shift 2 ;;
        --mqtt-port) mqtt_port="${2:?--mqtt-port needs a number}"; shift 2 ;;
        --lan) lan=1; shift ;;
        --lan-port) lan_port="${2:?--lan-port needs a number}"; shift 2 ;;
        --lan-name) lan_name="${2:?--lan-name needs a name}"; shift 2 ;;
        --lan-address) lan_addresses+=("${2:?--lan-address needs an address}"); shift 2 ;;
        --worker) new_workers+=("${2:?--worker needs a name}"); shift 2 ;;
        --remove-worker) drop_workers+=("${2:?--remove-worker needs a name}"); shift 2 ;;
        --venv) with_venv=1; shift ;;
        --no-venv) with_venv=0; shift ;;
        --pi) pi=1; shift ;;
        --no-pi) pi=0; shift ;;
        --hotspot) hotspot_mode=on; hotspot_ssid="${2?--hotspot needs a network name}"; shift 2 ;;
        --hotspot-password) hotspot_password="${2?--hotspot-password needs a value}"; shift 2 ;;
        --hotspot-band) hotspot_band="${2:?--hotspot-band needs 2.4 or 5}"; shift 2 ;;
        --hotspot-ifname) hotspot_ifname="${2:?--hotspot-ifname needs an interface}"; shift 2 ;;
        --no-hotspot) hotspot_mode=off; shift ;;
        --keep-desktop) keep_desktop=1; shift ;;
        --printer) printer_mode=on; shift ;;
        --no-printer) printer_mode=off; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

for port in "$mqtt_port" "$lan_port"; do
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        echo "install: bad port $port" >&2; exit 2
    fi
done
if [[ -n "$booth_id" && ! "$booth_id" =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; then
    echo "install: bad --booth-id $booth_id: use letters, digits, '.', '_' or '-'" >&2; exit 2
fi
if [[ "$booth_id" == workers ]]; then
    echo "install: booth id 'workers' is reserved (worker availability topics); pick another" >&2
    exit 2
fi
for w in "${new_workers[@]}" "${drop_workers[@]}"; do
    if [[ ! "$w" =~ ^[A-Za-z0-9_-]{1,32}$ ]]; then
        echo "install: bad worker name $w: use letters, digits, '_' or '-' (at most 32)" >&2
        exit 2
    fi
done
if ((${#new_workers[@]})) && ((!lan)); then
    echo "install: --worker needs --lan (worker machines reach the booth over the LAN)" >&2
    exit 2
fi
if [[ -n "$lan_name" && ! "$lan_name" =~ ^[A-Za-z0-9.-]{1,253}$ ]]; then
    echo "install: bad --lan-name $lan_name" >&2; exit 2
fi
for a in "${lan_addresses[@]}"; do
    if [[ ! "$a" =~ ^[0-9A-Fa-f:.]{2,45}$ ]]; then
        echo "install: bad --lan-address $a" >&2; exit 2
    fi
done

# Booth Wi-Fi options: refused before anything is written (the checks are in deploy/hotspot.sh).
# shellcheck source=deploy/hotspot.sh
source "$here/hotspot.sh"
hotspot_check_options

dry=0
if [[ -n "$root" ]]; then
    mkdir -p "$root"
    root="$(cd "$root" && pwd)"
    dry=1
elif [[ $(id -u) -ne 0 ]]; then
    echo "install: run as root (sudo $0), or use --root DIR for a dry run into a folder" >&2
    exit 1
fi
if [[ "$with_venv" == auto ]]; then with_venv=$((dry ? 0 : 1)); fi
if [[ "$pi" == auto ]]; then
    pi=0
    if grep -qs "Raspberry Pi" /proc/device-tree/model; then pi=1; fi
fi

changes=0
log() { echo "install: $*"; }
changed() { changes=$((changes + 1)); log "changed: $*"; }
# A system-level action: run it, or only log it in dry mode.
system() {
    if ((dry)); then log "dry: would run: $*"; else "$@"; fi
}

# Owner and mode of an installed path; a change is counted. In dry mode an owner that does not
# exist on this machine is only logged (the booth user is not really created there).
ensure_owner_mode() {
    local path=$1 owner=$2 group=$3 mode=$4
    if [[ "$(stat -c %a "$path")" != "${mode#0}" ]]; then
        chmod "$mode" "$path"; changed "mode $mode ${path#"$root"}"
    fi
    if ! getent passwd "$owner" >/dev/null || ! getent group "$group" >/dev/null; then
        if ((dry)); then log "dry: would chown $owner:$group ${path#"$root"}"; return; fi
        echo "install: user $owner or group $group missing" >&2; exit 1
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "not root: leaving the owner of ${path#"$root"} alone"; return
    fi
    if [[ "$(stat -c %U:%G "$path")" != "$owner:$group" ]]; then
        chown "$owner:$group" "$path"; changed "owner $owner:$group ${path#"$root"}"
    fi
}

# Install stdin as a file when its content differs (atomic rename), then owner and mode.
put_file() {
    local dest=$1 owner=$2 group=$3 mode=$4 tmp
    mkdir -p "$(dirname "$dest")"
    tmp="$(mktemp "$dest.XXXXXX")"
    cat >"$tmp"
    if [[ -f "$dest" ]] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        chmod "$mode" "$tmp"
        mv -f "$tmp" "$dest"
        changed "wrote ${dest#"$root"}"
    fi
    ensure_owner_mode "$dest" "$owner" "$group" "$mode"
}

# Create a file once (keep what is there), then owner and mode.
put_file_once() {
    local dest=$1
    if [[ -f "$dest" ]]; then
        cat >/dev/null
        ensure_owner_mode "$@"
    else
        put_file "$@"
    fi
}

ensure_dir() {
    local dir=$1 owner=$2 group=$3 mode=$4
    if [[ ! -d "$dir" ]]; then mkdir -p "$dir"; changed "created ${dir#"$root"}/"; fi
    ensure_owner_mode "$dir" "$owner" "$group" "$mode"
}

# ------------------------------------------------------------------ Debian packages
# SDL's KMSDRM driver always creates a GBM device and an EGL surface: on Raspberry Pi OS Lite
# that needs Mesa's DRI drivers and EGL vendor (libgl1-mesa-dri, libegl-mesa0), or the kiosk
# crash-loops with "Couldn't create gbm device.".
# libopenh264-7: the H.264 encoder of the reveal clips (share/h264.py; BSD, not GPL).
pkgs=(mosquitto mosquitto-clients python3-venv python3-pip
      libsdl2-2.0-0 libdrm2 libgbm1 libegl1 libgles2 libgl1-mesa-dri libegl-mesa0 libopenh264-7)
if ((lan)); then pkgs+=(openssl); fi  # the LAN listener's CA and certificate
if ((pi)); then pkgs+=(python3-picamera2 python3-gpiozero python3-lgpio); fi
if [[ "$hotspot_mode" == on ]]; then pkgs+=(network-manager dnsmasq-base nftables); fi
# Printing (--printer, or a booth-printer unit from an earlier --printer run): CUPS with its
# filters, IPP tools and Gutenprint, the driver of the dye-sub printers booths use.
if [[ "$printer_mode" == keep && -f "$root/etc/systemd/system/booth-printer.service" ]]; then
    printer_mode=on
fi
if [[ "$printer_mode" == on ]]; then
    pkgs+=(cups cups-client cups-filters cups-ipp-utils printer-driver-gutenprint)
fi
# Whether a Debian package is installed (no pipe into grep -q: with pipefail an early exit of
# grep could make a present package look missing).
installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}
missing=()
for p in "${pkgs[@]}"; do
    if ! installed "$p"; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
    log "Debian packages to install: ${missing[*]}"
    system apt-get update -qq
    system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
    if ((!dry)); then changed "installed ${missing[*]}"; fi
fi
if installed python3-pygame; then
    log "warning: python3-pygame is installed; the venv's pygame-ce shadows it (never import both)"
fi
for tool in mosquitto_passwd "${PYTHON:-python3}"; do
    if ! command -v "$tool" >/dev/null; then
        echo "install: $tool is missing (install the mosquitto and python3 packages)" >&2; exit 1
    fi
done

# ------------------------------------------------------------------ user and data dir
if getent passwd booth >/dev/null; then
    :
elif ((dry)); then
    log "dry: would run: useradd --system --user-group --home-dir /var/lib/booth --shell /usr/sbin/nologin booth"
else
    useradd --system --user-group --home-dir /var/lib/booth --shell /usr/sbin/nologin booth
    changed "created user booth"
fi
for g in video render input gpio; do
    getent group "$g" >/dev/null || continue
    if ((dry)) && ! getent passwd booth >/dev/null; then
        log "dry: would run: usermod -aG $g booth"; continue
    fi
    read -r -a booth_groups <<<"$(id -nG booth)"
    if [[ " ${booth_groups[*]} " != *" $g "* ]]; then
        system usermod -aG "$g" booth
        if ((!dry)); then changed "added booth to group $g"; fi
    fi
done
ensure_dir "$root/var/lib/booth" booth booth 0750
# Printing: the booth user may resume its CUPS queue (cupsd's @SYSTEM is its SystemGroup, lpadmin
# on Debian; it knows the user over its socket by the peer's uid).
if [[ "$printer_mode" == on ]] && getent group lpadmin >/dev/null; then
    if ((dry)) && ! getent passwd booth >/dev/null; then
        log "dry: would run: usermod -aG lpadmin booth"
    elif [[ " $(id -nG booth) " != *" lpadmin "* ]]; then
        system usermod -aG lpadmin booth
        if ((!dry)); then changed "added booth to group lpadmin (it may resume its print queue)"; fi
    fi
elif [[ "$printer_mode" == on ]]; then
    log "dry: would run: usermod -aG lpadmin booth (once cups made the group)"
fi

# ------------------------------------------------------------------ /etc/booth
ensure_dir "$root/etc/booth" root booth 0750
toml="$root/etc/booth/booth.toml"
if [[ ! -f "$toml" ]]; then
    id_line="booth_id = \"${booth_id}\""
    sed "s/^booth_id = \"\"$/${id_line}/" "$here/booth.example.toml" |
        put_file "$toml" root booth 0640
else
    ensure_owner_mode "$toml" root booth 0640
fi
put_file_once "$root/etc/booth/secrets.env" root root 0600 <"$here/secrets.env.example"
# An install from before admin.env kept the operator password in secrets.env, which only the
# worker reads now: move it over once.
admin_env="$root/etc/booth/admin.env"
if [[ ! -f "$admin_env" ]] && grep -qs '^BOOTH_ADMIN_PASSWORD=.' "$root/etc/booth/secrets.env"; then
    { sed -n '1,/^BOOTH_ADMIN_PASSWORD=/{/^BOOTH_ADMIN_PASSWORD=/d;p}' "$here/admin.env.example"
      grep '^BOOTH_ADMIN_PASSWORD=' "$root/etc/booth/secrets.env"
    } | put_file "$admin_env" root root 0600
    sed -i '/^BOOTH_ADMIN_PASSWORD=/d' "$root/etc/booth/secrets.env"
    changed "moved BOOTH_ADMIN_PASSWORD from secrets.env to admin.env"
fi
put_file_once "$admin_env" root root 0600 <"$here/admin.env.example"
# [cloud] bucket credentials: read by booth-share only (the process that uploads)
put_file_once "$root/etc/booth/cloud.env" root root 0600 <"$here/cloud.env.example"

# The effective booth id and topic root, as the booth will see them (booth.toml wins).
read -r cfg_id cfg_root < <("${PYTHON:-python3}" - "$toml" <<'EOF'
import socket, sys, tomllib
with open(sys.argv[1], "rb") as f:
    data = tomllib.load(f)
bid = data.get("booth_id") or ""
if not bid:
    name = socket.gethostname().split(".")[0] or "booth"
    bid = "".join(c if (c.isalnum() or c in "_-") else "-" for c in name)[:64] or "booth"
print(bid, data.get("mqtt", {}).get("root", "booth"))
EOF
)
if [[ -n "$booth_id" && "$booth_id" != "$cfg_id" ]]; then
    log "warning: --booth-id $booth_id ignored: ${toml#"$root"} says $cfg_id (edit it there)"
fi
booth_id=$cfg_id
topic_root=$cfg_root
if [[ "$booth_id" == workers ]]; then
    echo "install: booth id 'workers' is reserved (worker availability topics); pick another" >&2
    exit 2
fi
if [[ -z "$booth_id" || -z "$topic_root" ]]; then
    echo "install: cannot read booth_id / mqtt.root from ${toml#"$root"}" >&2; exit 1
fi
log "booth id $booth_id, topic root $topic_root"

# ------------------------------------------------------------------ MQTT users
# One password per role, generated once, kept in the role's env file (root only, 0600).
before_mosquitto=$changes
passwd_file="$root/etc/mosquitto/booth.passwd"
mkdir -p "$root/etc/mosquitto/conf.d"
role_password() {
    local envfile=$1 pw=""
    if [[ -f "$envfile" ]]; then
        pw="$(sed -n 's#^BOOTH_MQTT_URL=mqtt://[^:]*:\([^@]*\)@.*#\1#p' "$envfile")"
    fi
    if [[ -z "$pw" ]]; then
        pw="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)"
    fi
    printf '%s' "$pw"
}
for role in kiosk worker share printer; do
    envfile="$root/etc/booth/$role.env"
    pw="$(role_password "$envfile")"
    if [[ ! -f "$passwd_file" ]] || ! grep -q "^$role:" "$passwd_file"; then
        create=()
        if [[ ! -f "$passwd_file" ]]; then create=(-c); fi
        mosquitto_passwd "${create[@]}" -b "$passwd_file" "$role" "$pw"
        changed "mosquitto user $role"
    fi
    {
        echo "# MQTT credentials of the booth's $role processes (written by deploy/install.sh)."
        echo "BOOTH_MQTT_URL=mqtt://$role:$pw@127.0.0.1:$mqtt_port"
    } | put_file "$envfile" root root 0600
done
ensure_owner_mode "$passwd_file" root mosquitto 0640

# ------------------------------------------------------------------ the LAN listener
# Worker machines (install.sh --lan) reach the broker over TLS only, with a certificate signed
# by a CA made here (workers check the booth with its ca.crt), each with a login of its own kept
# in mosquitto's dynamic-security file, whose ACL checks subscriptions too (acl_file cannot):
# read jobs through the shared subscription, write statuses, results and availability.
tls_dir="$root/etc/mosquitto/booth-tls"
workers_dir="$root/etc/booth/workers"
lan_json="$root/etc/mosquitto/booth-lan.json"
for w in "${drop_workers[@]}"; do
    if [[ -f "$workers_dir/$w.env" ]]; then
        rm -f "$workers_dir/$w.env"; changed "removed worker machine $w"
    fi
done
lan_listener="# LAN listener for worker machines: off (install.sh --lan turns it on)"
if ((lan)); then
    if ! command -v openssl >/dev/null; then
        echo "install: openssl is missing (Debian package openssl)" >&2; exit 1
    fi
    ensure_dir "$tls_dir" root mosquitto 0750
    ensure_dir "$workers_dir" root root 0750
    host="$(hostname -s 2>/dev/null || hostname)"
    lan_name="${lan_name:-$host.local}"
    if ((${#lan_addresses[@]} == 0)); then
        read -r -a lan_addresses <<<"$(hostname -I 2>/dev/null || true)"
    fi
    san="DNS:$lan_name,DNS:$host,DNS:localhost,IP:127.0.0.1"
    for a in "${lan_addresses[@]}"; do san+=",IP:$a"; done
    if [[ ! -f "$tls_dir/ca.key" || ! -f "$tls_dir/ca.crt" ]]; then
        (umask 077  # the keys are never readable by anyone else, not even for a moment
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
            -days 3650 -subj "/CN=Drip Me Out booth $booth_id CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.crt" 2>/dev/null)
        rm -f "$tls_dir/server.crt"
        changed "made the LAN CA ${tls_dir#"$root"}/ca.crt"
    fi
    if [[ ! -f "$tls_dir/server.crt" || "$(cat "$tls_dir/server.san" 2>/dev/null)" != "$san" ]]
    then
        tmp_ext="$(mktemp)"
        printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n%s\n%s\n' "$san" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tmp_ext"
        (umask 077
         openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
            -subj "/CN=$lan_name" -keyout "$tls_dir/server.key" -out "$tls_dir/server.csr" \
            2>/dev/null)
        openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.crt" \
            -CAkey "$tls_dir/ca.key" -CAcreateserial -days 825 -sha256 -extfile "$tmp_ext" \
            -out "$tls_dir/server.crt" 2>/dev/null
        rm -f "$tmp_ext" "$tls_dir/server.csr"
        echo "$san" >"$tls_dir/server.san"
        changed "made the LAN certificate for $san"
    fi
    ensure_owner_mode "$tls_dir/ca.key" root root 0600
    ensure_owner_mode "$tls_dir/ca.crt" root mosquitto 0644
    ensure_owner_mode "$tls_dir/server.key" root mosquitto 0640
    ensure_owner_mode "$tls_dir/server.crt" root mosquitto 0644
    put_file "$workers_dir/ca.crt" root root 0644 <"$tls_dir/ca.crt"
    for w in "${new_workers[@]}"; do
        envfile="$workers_dir/$w.env"
        if [[ ! -f "$envfile" ]]; then
            pw="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true)"
            {
                echo "# MQTT login of worker machine $w (deploy/install.sh --lan --worker $w)."
                echo "# Copy this file to that machine as /etc/booth/worker.env, and"
                echo "# ca.crt beside it to /etc/booth/booth-ca.crt (they let it check the booth)."
                echo "BOOTH_MQTT_URL=mqtts://worker-$w:$pw@$lan_name:$lan_port"
                echo "BOOTH_MQTT_CA_FILE=/etc/booth/booth-ca.crt"
            } | put_file "$envfile" root root 0600
        fi
    done
    plugin="$(find /usr/lib -maxdepth 3 -name mosquitto_dynamic_security.so 2>/dev/null |
              head -n 1 || true)"
    if [[ -z "$plugin" ]]; then
        echo "install: mosquitto's dynamic security plugin is missing (package mosquitto)" >&2
        exit 1
    fi
    "${PYTHON:-python3}" "$here/mosquitto/lan_workers.py" "$lan_json" "$workers_dir" \
        "$topic_root" | put_file "$lan_json" root mosquitto 0640
    lan_listener="# Worker machines on the LAN (install.sh --lan): TLS only, a login per machine
# from the dynamic-security file (its ACL is in deploy/mosquitto/lan_workers.py).
listener $lan_port
certfile /etc/mosquitto/booth-tls/server.crt
keyfile /etc/mosquitto/booth-tls/server.key
cafile /etc/mosquitto/booth-tls/ca.crt
allow_anonymous false
plugin $plugin
plugin_opt_config_file /etc/mosquitto/booth-lan.json"
elif [[ -f "$lan_json" ]]; then
    rm -f "$lan_json"; changed "removed the LAN listener's logins (no --lan)"
fi
sed -e "s#@PASSWD_FILE@#/etc/mosquitto/booth.passwd#" \
    -e "s#@ACL_FILE@#/etc/mosquitto/booth.acl#" \
    -e "s#@MQTT_PORT@#$mqtt_port#" \
    "$here/mosquitto/booth.conf.in" |
    awk -v lan="$lan_listener" '$0 == "@LAN_LISTENER@" { print lan; next } { print }' |
    put_file "$root/etc/mosquitto/conf.d/booth.conf" root root 0644
sed -e "s#@ROOT@#$topic_root#g" -e "s#@BOOTH@#$booth_id#g" \
    -e "s#@KIOSK_USER@#kiosk#" -e "s#@WORKER_USER@#worker#" -e "s#@SHARE_USER@#share#" \
    -e "s#@PRINTER_USER@#printer#" \
    "$here/mosquitto/acl.in" | put_file "$root/etc/mosquitto/booth.acl" root mosquitto 0640
mosquitto_changes=$((changes - before_mosquitto))

# ------------------------------------------------------------------ venv and the project
venv="$root/opt/booth/venv"
packages=(booth jobstore kiosk share worker appliance)  # pyproject.toml's packages
# shellcheck source=deploy/venv-lib.sh
source "$here/venv-lib.sh"
if ((with_venv)); then
    ensure_dir "$root/opt/booth" root root 0755
    if [[ ! -x "$venv/bin/python" ]]; then
        # --system-site-packages: picamera2 and libcamera come from Raspberry Pi OS.
        "${PYTHON:-python3}" -m venv --system-site-packages "$venv"
        changed "created venv ${venv#"$root"}"
    fi
    constraints="$venv/booth-constraints.txt"
    os_numpy="$(venv_constraints "$venv/bin/python" "$constraints")"
    if [[ -n "$os_numpy" ]]; then
        log "keeping the OS numpy $os_numpy in the venv (compiled OS packages need its ABI)"
    fi
    # The constraints are part of the stamp: a new OS numpy (an upgrade) reinstalls.
    src_hash="$( (cd "$src" && find pyproject.toml "${packages[@]}" -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z |
        xargs -0 sha256sum; cat "$constraints") | sha256sum | cut -c1-64)"
    stamp="$venv/.booth-source"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$src_hash" ]]; then
        log "installing the project into ${venv#"$root"} (takes a few minutes on a Pi)"
        # BOOTH_PIP_ARGS: extra pip options, e.g. "--no-deps --no-index" for an offline rebuild.
        read -r -a pip_args <<<"${BOOTH_PIP_ARGS:-}"
        # Build from a clean copy: no build/ or egg-info left in the checkout, no stale files.
        build_dir="$(mktemp -d)"
        trap 'rm -rf "$build_dir"' EXIT
        tar -C "$src" --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md \
            "${packages[@]}" | tar -C "$build_dir" -xf -
        venv_pip_install "$venv" "$constraints" "${pip_args[@]}" "$build_dir"
        rm -rf "$build_dir"
        echo "$src_hash" >"$stamp"
        changed "installed the project into ${venv#"$root"}"
    fi
    if ((pi)); then
        # Loud, not later in the kiosk's journal: a booth without its camera is no booth.
        if ! venv_check_picamera2 "$venv"; then
            echo "install: the Pi camera cannot be used from ${venv#"$root"} (see above)" >&2
            exit 1
        fi
    fi
elif ((dry)); then
    log "dry: would build ${venv#"$root"} (--system-site-packages) and pip install $src"
else
    log "skipping the venv (--no-venv)"
fi

# ------------------------------------------------------------------ booth Wi-Fi (deploy/hotspot.sh)
hotspot_install

# ------------------------------------------------------------------ systemd units
before_units=$changes
units=(booth-kiosk booth-worker booth-share)
if [[ "$printer_mode" == on ]]; then units+=(booth-printer); fi
for unit in "${units[@]}"; do
    put_file "$root/etc/systemd/system/$unit.service" root root 0644 <"$src/systemd/$unit.service"
done
if [[ "$printer_mode" == off && -f "$root/etc/systemd/system/booth-printer.service" ]]; then
    system systemctl disable --now --quiet booth-printer
    rm -f "$root/etc/systemd/system/booth-printer.service"
    changed "removed booth-printer (--no-printer)"
fi
if ((changes != before_units)); then system systemctl daemon-reload; fi
if ((mosquitto_changes)); then system systemctl restart mosquitto; fi
system systemctl enable --quiet mosquitto booth-worker booth-share booth-kiosk
if [[ "$printer_mode" == on ]]; then system systemctl enable --quiet cups booth-printer; fi
# The kiosk owns tty1: no login prompt competes with it at boot (other VTs and SSH still work).
system systemctl mask --quiet getty@tty1.service
# Started from a login on tty1, starting the kiosk (Conflicts=getty@tty1) would end this very
# session half-way: leave it for the next boot. BOOTH_INSTALL_TTY: tests name the terminal.
now_units=(booth-worker booth-share booth-kiosk)
if [[ "$printer_mode" == on ]]; then now_units+=(booth-printer); fi
if [[ "${BOOTH_INSTALL_TTY:-$(tty 2>/dev/null || true)}" == /dev/tty1 ]]; then
    now_units=(booth-worker booth-share)
    if [[ "$printer_mode" == on ]]; then now_units+=(booth-printer); fi
    log "warning: run from tty1, which the kiosk takes over: not starting booth-kiosk now."
    log "         It starts at the next boot, or run \`sudo systemctl start booth-kiosk\` from"
    log "         SSH or another console (Ctrl+Alt+F2)."
fi
if ((changes)); then
    system systemctl restart "${now_units[@]}"
else
    system systemctl start "${now_units[@]}"
fi
# A desktop image: the display manager holds DRM master and SDL's KMSDRM skips the card, so the
# kiosk would never reach the screen. Boot to the console instead (what raspi-config's "Console"
# boot option does), unless --keep-desktop.
if [[ -L "$root/etc/systemd/system/display-manager.service" ]]; then
    default_target="$(basename "$(readlink "$root/etc/systemd/system/default.target" || true)")"
    if ((keep_desktop)); then
        log "warning: --keep-desktop: the desktop keeps the screen; the kiosk shows nothing"
        log "         until you boot to the console (sudo systemctl set-default multi-user.target)"
    elif [[ "$default_target" != multi-user.target ]]; then
        system systemctl set-default multi-user.target
        if ((!dry)); then changed "boot target: console (multi-user.target)"; fi
        log "the desktop no longer starts at boot, so the kiosk gets the screen (reboot now;"
        log "--keep-desktop keeps the desktop, \`sudo systemctl set-default graphical.target\`"
        log "brings it back)"
    fi
fi

if ((changes)); then
    log "done: $changes change(s)"
else
    log "done: no changes"
fi
if ((lan)); then
    log "LAN listener: mqtts://$lan_name:$lan_port (TLS; certificate for $san)"
    log "  CA fingerprint: $(openssl x509 -in "$tls_dir/ca.crt" -noout -fingerprint -sha256 |
        cut -d= -f2)"
    for envfile in "$workers_dir"/*.env; do
        [[ -f "$envfile" ]] || continue
        log "  worker machine $(basename "$envfile" .env): copy ${envfile#"$root"} and" \
            "${workers_dir#"$root"}/ca.crt to it (see docs/deploy.md, The broker: users and ACL)"
    done
fi
if [[ "$printer_mode" == on ]]; then
    log "printing: add the printer's CUPS queue (docs/printing.md, Install), then set"
    log "  [print] enabled = true (and its queue) in /etc/booth/booth.toml and restart booth-kiosk"
    log "  and booth-printer; booth doctor checks the queue"
fi
log "next: put GEMINI_API_KEY in /etc/booth/secrets.env (and BOOTH_ADMIN_PASSWORD in"
log "      /etc/booth/admin.env for the operator page; the bucket key in /etc/booth/cloud.env"
log "      for cloud sharing, with [cloud] in booth.toml), then check with:"
log "  sudo /opt/booth/venv/bin/booth doctor --env-file /etc/booth/secrets.env --env-file /etc/booth/kiosk.env"
