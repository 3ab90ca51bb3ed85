"""The venv of a Raspberry Pi OS Bookworm booth keeps the OS numpy ABI.

Reproduced on Debian 12, which has the same Python (3.11) and numpy (1.24) as Bookworm: a C
extension compiled against the OS numpy stands in for the OS `simplejpeg` that the OS picamera2
imports. It checks numpy.dtype's size the way Cython-generated modules do, so a numpy 2.x in the
venv fails exactly like the field reports: "ValueError: numpy.dtype size changed". A stand-in
`picamera2` package that imports it is put on the path like the OS's dist-packages.

Then deploy/install.sh builds its venv from Debian's own /usr/bin/python3 with --pi: it must
keep the OS numpy, pick an opencv that accepts it, and pass its own `from picamera2 import
Picamera2` check. The control: the same venv with the old requirement (`numpy>=1.26`) fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploytools import REPO

OS_PYTHON = Path("/usr/bin/python3")

FAKE_SIMPLEJPEG = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

/* What a Cython module with `cimport numpy` (simplejpeg) runs first: numpy.dtype's size must be
   the one of the header it was compiled against. */
static int check_dtype_size(void) {
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) return -1;
    PyObject *dtype = PyObject_GetAttrString(np, "dtype");
    Py_DECREF(np);
    if (dtype == NULL) return -1;
    Py_ssize_t got = ((PyTypeObject *)dtype)->tp_basicsize;
    Py_DECREF(dtype);
    if (got != (Py_ssize_t)sizeof(PyArray_Descr)) {
        PyErr_Format(PyExc_ValueError,
                     "numpy.dtype size changed, may indicate binary incompatibility. "
                     "Expected %zd from C header, got %zd from PyObject",
                     (Py_ssize_t)sizeof(PyArray_Descr), got);
        return -1;
    }
    return 0;
}

/* encode(array) -> number of bytes, through the C API like simplejpeg.encode_jpeg */
static PyObject *encode(PyObject *self, PyObject *arg) {
    if (!PyArray_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected a numpy array");
        return NULL;
    }
    return PyLong_FromSsize_t(PyArray_NBYTES((PyArrayObject *)arg));
}

static PyMethodDef methods[] = {{"encode", encode, METH_O, "bytes of an array"},
                                {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fakejpeg", NULL, -1, methods};

PyMODINIT_FUNC PyInit_fakejpeg(void) {
    if (check_dtype_size() < 0) return NULL;
    import_array();
    return PyModule_Create(&module);
}
"""

FAKE_PICAMERA2 = """# the OS picamera2's first import that needs numpy's ABI
import numpy
import fakejpeg

assert fakejpeg.encode(numpy.zeros((4, 4, 3), numpy.uint8)) == 48


class Picamera2:
    pass
"""


def _os_numpy() -> tuple[str, str]:
    out = subprocess.run(
        [
            str(OS_PYTHON),
            "-c",
            "import numpy; print(numpy.__version__); print(numpy.get_include())",
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.fail(
            "Debian's python3-numpy is missing (deploy/setup-dev.sh --test installs "
            f"it): {out.stderr.strip()[-300:]}"
        )
    version, include = out.stdout.split()
    return version, include


def _build_os_packages(tmp: Path) -> Path:
    """fakejpeg compiled against the OS numpy + the picamera2 stand-in: the 'dist-packages'."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing (deploy/setup-dev.sh --test installs it)")
    _, np_include = _os_numpy()
    info = subprocess.run(
        [
            str(OS_PYTHON),
            "-c",
            "import sysconfig; "
            "print(sysconfig.get_paths()['include']); "
            "print(sysconfig.get_config_var('EXT_SUFFIX'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    py_include, suffix = info
    if not (Path(py_include) / "Python.h").exists():
        pytest.fail("python3-dev is missing (deploy/setup-dev.sh --test installs it)")
    pkgs = tmp / "os-dist-packages"
    (pkgs / "picamera2").mkdir(parents=True)
    (pkgs / "picamera2" / "__init__.py").write_text(FAKE_PICAMERA2)
    src = tmp / "fakejpeg.c"
    src.write_text(FAKE_SIMPLEJPEG)
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O1",
            f"-I{py_include}",
            f"-I{np_include}",
            str(src),
            "-o",
            str(pkgs / f"fakejpeg{suffix}"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return pkgs


def _import_in(python: Path, pkgs: Path) -> subprocess.CompletedProcess:
    code = (
        "from picamera2 import Picamera2; import numpy, cv2; "
        "print(numpy.__version__, numpy.__file__, cv2.__version__)"
    )
    return subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(pkgs)},
        cwd=pkgs,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.network  # pip installs numpy and opencv from the index
@pytest.mark.xdist_group("cpu2")  # gcc, two venvs and pip: CPU-bound (tests/conftest.py)
def test_the_install_keeps_the_os_numpy_for_picamera2(tmp_path):
    if not OS_PYTHON.exists():
        pytest.fail("Debian's /usr/bin/python3 is missing")
    os_version, _ = _os_numpy()
    pkgs = _build_os_packages(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}

    # The stand-in works with the numpy it was built against (the OS python, no venv) …
    direct = subprocess.run(
        [str(OS_PYTHON), "-c", "from picamera2 import Picamera2"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(pkgs)},
    )
    assert direct.returncode == 0, direct.stderr

    # … and fails like the field reports in a venv where pip followed the old `numpy>=1.26`.
    if int(os_version.split(".")[0]) < 2:
        old = tmp_path / "old-venv"
        subprocess.run(
            [str(OS_PYTHON), "-m", "venv", "--system-site-packages", str(old)],
            check=True,
            env=env,
            timeout=120,
        )
        subprocess.run(
            [
                str(old / "bin/python"),
                "-m",
                "pip",
                "install",
                "-q",
                "numpy>=1.26",
                "opencv-python-headless>=4.10,<5",
            ],
            check=True,
            env=env,
            timeout=600,
            capture_output=True,
        )
        broken = _import_in(old / "bin/python", pkgs)
        assert broken.returncode != 0
        assert "numpy.dtype size changed" in broken.stderr, broken.stderr[-2000:]

    # The fix: install.sh's venv (Debian's python, --pi: the picamera2 check runs).
    root = tmp_path / "root"
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("deploy", "systemd", "booth", "jobstore", "kiosk", "share", "worker", "appliance"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    out = subprocess.run(
        [
            "bash",
            str(src / "deploy/install.sh"),
            "--root",
            str(root),
            "--venv",
            "--pi",
            "--booth-id",
            "b1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**env, "PYTHON": str(OS_PYTHON), "PYTHONPATH": str(pkgs)},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"keeping the OS numpy {os_version} in the venv" in out.stdout
    assert "picamera2 imports in the venv" in out.stdout
    venv = root / "opt/booth/venv"
    constraints = (venv / "booth-constraints.txt").read_text()
    assert f"numpy=={os_version}" in constraints
    fixed = _import_in(venv / "bin/python", pkgs)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    np_version, np_file, cv_version = fixed.stdout.split()
    assert np_version == os_version and not np_file.startswith(str(venv))  # the OS copy
    if int(os_version.split(".")[0]) < 2:
        assert tuple(int(x) for x in cv_version.split(".")[:2]) < (4, 12)
    # the booth's own code runs on that numpy and opencv: the local effect on a real photo
    smoke = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import cv2, sys; from worker.local_effect import LocalEffect; "
            "img = cv2.imread(sys.argv[1]); out = LocalEffect().apply(img); print(out)",
            str(REPO / "tests/fixtures/portrait.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert smoke.returncode == 0, smoke.stderr[-2000:]

    # Without its picamera2 (the stand-in gone), a --pi install fails loudly, saying why.
    again = subprocess.run(
        [
            "bash",
            str(src / "deploy/install.sh"),
            "--root",
            str(root),
            "--venv",
            "--pi",
            "--booth-id",
            "b1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "PYTHON": str(OS_PYTHON)},
    )
    assert again.returncode == 1
    assert "from picamera2 import Picamera2` fails inside" in again.stderr
    assert "No module named 'picamera2'" in again.stderr


def test_constraints_follow_the_interpreters_own_numpy(tmp_path):
    """No system numpy visible (a venv without system site packages): no pin at all."""
    venv = tmp_path / "v"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    out_file = tmp_path / "c.txt"
    out = subprocess.run(
        [
            "bash",
            "-c",
            f'source "{REPO}/deploy/venv-lib.sh"; '
            f'venv_constraints "{venv}/bin/python" "{out_file}"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    assert not [ln for ln in out_file.read_text().splitlines() if not ln.startswith("#")]
