"""The house rules: who may import whom (import-linter, `.importlinter`), and what `booth worker`
loads. A rule that nothing checks holds only by luck."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("booth", "jobstore", "kiosk", "share", "worker", "appliance")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command;lint_imports_command()",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_import_contracts_are_kept():
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" in out.stdout and "0 broken" in out.stdout


def test_a_cross_import_breaks_the_contracts(tmp_path):
    """The contracts really bite: the same tree with kiosk importing the share server fails."""
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "samples")
        )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "kiosk" / "ui" / "input.py", "a") as fh:
        fh.write("\nimport share.pages  # noqa: E402,F401  (the forbidden import)\n")
    with open(tmp_path / "worker" / "dedupe.py", "a") as fh:
        fh.write("\nimport jobstore.ledger  # noqa: E402,F401  (the forbidden import)\n")
    out = lint_imports(tmp_path)
    assert out.returncode != 0
    assert "kiosk is not allowed to import share" in out.stdout
    assert "worker.dedupe -> jobstore.ledger" in out.stdout


def test_booth_worker_loads_neither_screen_nor_web_server(broker, tmp_path):
    """`booth worker` started the way systemd starts it, then asked what it has imported."""
    script = textwrap.dedent(f"""
        import json, os, sys, threading
        from appliance import cli
        os.environ.update(BOOTH_MQTT_URL={broker.url!r}, BOOTH_DATA_DIR={str(tmp_path)!r},
                          BOOTH_ID="archbooth", BOOTH_CONFIG={str(tmp_path / "booth.toml")!r})
        import worker.service
        started = threading.Event()
        real_start = worker.service.Worker.start
        def start(self):
            w = real_start(self)
            assert w.wait_ready(10)
            started.set()
            mods = sorted(sys.modules)
            print(json.dumps(mods), flush=True)
            os.kill(os.getpid(), 15)  # the worker's own SIGTERM handling stops it
            return w
        worker.service.Worker.start = start
        sys.exit(cli.main(["worker", "--id", "arch-worker"]))
    """)
    (tmp_path / "booth.toml").write_text("")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    mods = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "worker.service" in mods and "paho.mqtt.client" in mods  # it really ran
    loaded = sorted(
        m for m in mods if m.split(".")[0] in ("pygame", "aiohttp", "kiosk", "share", "jobstore")
    )
    assert loaded == [], loaded


def import_cycles(cwd: Path) -> list[list[str]]:
    """The import cycles among our packages in the tree at `cwd`, counting the imports made only
    for type checking (grimp reads them all); run in a child so no module of ours is reloaded
    here (tests/architecture/cycles.py)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("cycles.py")), *PACKAGES],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_no_import_cycles_anywhere():
    """No two modules of ours import each other, directly or round a loop: a cycle is a layer
    that is not one."""
    assert import_cycles(ROOT) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    """The check really bites: a type-only import back from the layout's model to its planner."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "kiosk" / "ui" / "qrlayout" / "model.py", "a") as fh:
        fh.write(
            "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from kiosk.ui.qrlayout.plan import plan  # the forbidden way back\n"
        )
    cycles = import_cycles(tmp_path)
    assert any("kiosk.ui.qrlayout.plan" in c and "kiosk.ui.qrlayout.model" in c for c in cycles)


def test_the_kiosk_job_side_loads_no_pygame():
    """`booth snap` and the kiosk's job side: importing them loads no screen library."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, kiosk.jobs.controller, appliance.snap; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pygame'))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


SUPPRESSION = re.compile(r"#\s*(noqa(?::\s*[A-Z0-9, ]+)?|type:\s*ignore(?:\[[\w, -]+\])?)(.*)$")


def test_every_suppression_says_why_on_its_line():
    """A `# noqa` or `# type: ignore[...]` silences a checker: the reason goes on the same line
    (`# noqa: F401  (why)`, `# type: ignore[code]  # why`), so the next reader can judge whether
    it still holds."""
    bare = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == ".venv" or rel.parts[:2] == ("tests", "output"):
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = SUPPRESSION.search(line)
            if m and line.lstrip().startswith(("#", '"', "'")) is False:
                reason = m.group(2).strip().lstrip("#").strip(" ()")
                if len(reason) < 3:
                    bare.append(f"{rel}:{n}: {line.strip()}")
    assert not bare, "suppressions without a reason on their line:\n" + "\n".join(bare)
