# shellcheck shell=bash
# The venv logic deploy/install.sh and deploy/setup-dev.sh share (sourced, not run).
#
# Why: on Raspberry Pi OS the camera stack (python3-picamera2, and the simplejpeg it imports)
# comes from the OS and is compiled against the OS numpy; the venv sees it through
# --system-site-packages. If pip puts another numpy *ABI* into the venv (numpy 2.x over
# Bookworm's 1.24), `from picamera2 import Picamera2` fails with "ValueError: numpy.dtype size
# changed". So the numpy the interpreter's system site packages provide is pinned at install
# time (pip then keeps using it), and on numpy 1.x opencv-python-headless stays below 4.12,
# the first release that requires numpy 2.

# venv_constraints VENV_PYTHON FILE — write pip constraints for the venv into FILE (may be
# empty: no system numpy, or a venv without system site packages, needs no pin).
venv_constraints() {
    local py=$1 out=$2
    "$py" - "$out" <<'EOF'
import sys
from importlib import metadata

# Only what lies outside the venv itself: the system site packages it was created to see.
outside = [p for p in sys.path if p and not p.startswith(sys.prefix)]
version = None
for dist in metadata.distributions(path=outside):
    if (dist.metadata["Name"] or "").lower() == "numpy":
        version = dist.version
        break
lines = ["# Written by deploy/venv-lib.sh at install time: keep the venv's numpy ABI-compatible",
         "# with compiled packages of the system site packages (picamera2 -> simplejpeg)."]
if version:
    lines.append(f"numpy=={version}")
    if int(version.split(".")[0]) < 2:
        lines.append("opencv-python-headless<4.12  # 4.12 and later require numpy>=2")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(lines) + "\n")
print(version or "")
EOF
}

# venv_pip_install VENV CONSTRAINTS [pip arguments…] — pip install with the constraints.
venv_pip_install() {
    local venv=$1 constraints=$2
    shift 2
    "$venv/bin/python" -m pip install -q -c "$constraints" "$@"
}

# venv_check_picamera2 VENV — on a Pi: the camera stack must import inside the venv. Prints
# the import's own error and the fix, and returns 1, when it does not.
venv_check_picamera2() {
    local venv=$1 out
    if out="$("$venv/bin/python" -c 'from picamera2 import Picamera2; import numpy
print("picamera2 imports in the venv (numpy " + numpy.__version__ + " from " + numpy.__file__.rsplit("/numpy/", 1)[0] + ")")' 2>&1)"; then
        echo "$out"
        return 0
    fi
    echo "error: \`from picamera2 import Picamera2\` fails inside $venv:" >&2
    printf '%s\n' "$out" | tail -n 3 | sed 's/^/    /' >&2
    echo "  fix: apt install python3-picamera2 (Raspberry Pi OS), then rebuild the venv:" >&2
    echo "       rm -rf $venv and run this script again (it pins the OS numpy)" >&2
    return 1
}
