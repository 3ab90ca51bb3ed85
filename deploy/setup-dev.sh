#!/usr/bin/env bash
# Installs what a fresh Debian / Raspberry Pi OS machine lacks to run this checkout
# (and, with --test, to run its test suite): Debian packages, a venv in .venv, the project.
# Idempotent and quick on a second run: it installs only what is missing.
set -euo pipefail

mode="run"
if [[ "${1:-}" == "--test" ]]; then mode="test"; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

# Debian packages: the broker always; for the tests also the browser for the download page,
# the shell linter and systemd-analyze for the deploy files, openssl for the LAN broker's
# certificates (install.sh --lan), for the booth Wi-Fi's network-namespace test
# NetworkManager's DHCP/DNS server, a DHCP client and nftables, Debian's own numpy with a C
# compiler and headers (tests/deploy/test_numpy_abi.py builds a venv like a Pi's against them),
# and ejabberd, a second MQTT 5 broker (tests/support/ejabberd.py starts private ones); CUPS with
# ippeveprinter, an IPP printer that keeps what it prints, and the D-Bus and avahi it needs
# (tests/support/cups.py starts private ones).
# libopenh264-7: the reveal clips' H.264 encoder (share/h264.py), for `make run` too.
pkgs=(mosquitto python3-venv libopenh264-7)
if [[ "$mode" == test ]]; then
    pkgs+=(mosquitto-clients chromium shellcheck systemd openssl dnsmasq-base udhcpc nftables
           python3-numpy python3-dev gcc ejabberd
           cups cups-client cups-ipp-utils cups-filters avahi-daemon dbus)
fi
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    # Only the tests use ejabberd, each run its own: not the system one (where systemd started
    # it, it listens on 1883, 5222 and 5280 on every address), nor the epmd its install leaves
    # on 0.0.0.0:4369.
    if [[ " ${missing[*]} " == *" ejabberd "* ]]; then
        if [[ -d /run/systemd/system ]]; then
            "${sudo_cmd[@]}" systemctl disable --now ejabberd.service epmd.service epmd.socket \
                >/dev/null 2>&1 || true
        fi
        epmd -kill >/dev/null 2>&1 || true
    fi
fi

# The venv. On a Raspberry Pi the OS provides picamera2/libcamera: let the venv see them.
python=${PYTHON:-python3}
venv_flags=()
if [[ -d /usr/lib/python3/dist-packages/picamera2 ]]; then venv_flags+=(--system-site-packages); fi
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv "${venv_flags[@]}" .venv
fi

# The same numpy pin as deploy/install.sh: a venv that sees the OS packages keeps the OS numpy.
# shellcheck source=deploy/venv-lib.sh
source deploy/venv-lib.sh
constraints=.venv/booth-constraints.txt
before="$(cat "$constraints" 2>/dev/null || true)"
venv_constraints .venv/bin/python "$constraints.new" >/dev/null
mv -f "$constraints.new" "$constraints"

extra=""
if [[ "$mode" == test ]]; then extra="[dev]"; fi
stamp=".venv/.installed-${mode}"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || "$before" != "$(cat "$constraints")" ]]; then
    echo "setup: installing the project into .venv (${mode})"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    venv_pip_install .venv "$constraints" -e ".${extra}"
    touch "$stamp"
fi
if [[ -d /usr/lib/python3/dist-packages/picamera2 ]] && grep -qs "Raspberry Pi" /proc/device-tree/model; then
    venv_check_picamera2 .venv || exit 1
fi

# npm packages the tests drive, pinned, in .venv/npm (git-ignored with the venv; node and npm
# come from the machine): Lighthouse 12 (13.x needs Node 22) and axe-core for the browser audits
# of the share pages (tests/share/test_audits.py); s3rver, the cloud tests' second S3 server
# (tests/support/s3.py). Add a package here as name@version.
npm_pkgs=(lighthouse@12.2.3 axe-core@4.13.0 s3rver@3.7.1)
npm_dir=.venv/npm
if [[ "$mode" == test ]]; then
    if ! command -v npm >/dev/null; then
        echo "setup: no npm on this machine: the tests that need ${npm_pkgs[*]} will be skipped"
    elif [[ "$(cat "$npm_dir/.installed" 2>/dev/null)" != "${npm_pkgs[*]}" ]]; then
        echo "setup: installing npm packages into $npm_dir: ${npm_pkgs[*]}"
        mkdir -p "$npm_dir"
        npm install --prefix "$npm_dir" --save-exact --no-audit --no-fund --loglevel=error \
            "${npm_pkgs[@]}" >/dev/null
        echo "${npm_pkgs[*]}" >"$npm_dir/.installed"
    fi
fi
echo "setup: ready ($mode)"
