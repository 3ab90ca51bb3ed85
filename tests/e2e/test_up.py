"""`booth up`: the whole booth from one command, with a private broker and supervised children."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import psutil

from tests.e2e.rig import BOOTH, ROOT, http_get, http_ok, run_up, wait_until
from tests.support.mosquitto import free_port


def up_env(rig, **extra):
    env = dict(rig.env, BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}")  # nothing there
    for k in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(k, None)
    env.update(extra)
    return env


def _popen_up(rig, args: list[str], env: dict, log) -> subprocess.Popen:
    """`booth up ARGS` in a session of its own, logging to `log`; the rig ends it and all it
    started when the test ends, whatever happens (tests/e2e/rig.py Rig.close), so a `booth up`
    that fails to start, or a wait that gives up on it, leaves nothing running."""
    with open(log, "wb") as fh:
        return rig.adopt(
            subprocess.Popen(
                BOOTH + ["up", *args],
                env=env,
                cwd=str(ROOT),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )


def test_up_headless_with_a_private_broker_prints_links_and_stops_cleanly(rig):
    log = rig.logs / "up.log"
    proc = _popen_up(rig, ["--interval", "0.5"], up_env(rig), log)
    try:
        # No display here: it says so and goes headless by itself.
        wait_until(
            lambda: len(re.findall(r"download: (\S+)", log.read_text())) >= 2,
            120,
            lambda: "no two results:\n" + log.read_text(),
        )
        text = log.read_text()
        assert "no display found" in text
        assert "no GEMINI_API_KEY" in text
        assert "started a private mosquitto" in text
        assert "▀" in text and "▄" in text  # each result's QR drawn in the terminal
        url = re.findall(r"download: (\S+)", text)[0]
        assert http_get(url + "/photo.jpg")[:3] == b"\xff\xd8\xff"
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for part in ("worker", "share", "kiosk", "mosquitto"):
            assert part in names, names
        assert "--local-only" in names  # no key: the screen says photos get the local effect
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    for c in children:
        assert not c.is_running() or c.status() == psutil.STATUS_ZOMBIE, f"left running: {c}"
    assert "stopped worker" in log.read_text() and "stopped kiosk" in log.read_text()


def test_up_with_a_shot_limit_ends_by_itself_without_a_restart(rig):
    """`booth up --headless --shots 2`: the kiosk's clean exit ends the run (a finished job,
    not a crash): no restart is logged and every child is stopped."""
    code, said = run_up(up_env(rig))
    assert code == 0, said
    assert len(re.findall(r"download: (\S+)", said)) == 2, said
    assert "headless kiosk finished its 2 shots" in said, said
    assert "restarting" not in said, said
    assert "stopped worker" in said and "stopped share" in said, said


def test_up_restarts_a_child_that_dies(rig):
    log = rig.logs / "up2.log"
    proc = _popen_up(rig, ["--no-kiosk"], up_env(rig), log)
    try:

        def worker_pid():
            for c in psutil.Process(proc.pid).children():
                try:
                    if "worker" in c.cmdline():
                        return c.pid
                except psutil.Error:  # the dead one, not yet reaped
                    continue
            return None

        wait_until(lambda: worker_pid() is not None, 60, "worker never started")
        first = worker_pid()
        time.sleep(1.0)
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: worker_pid() not in (None, first),
            60,
            lambda: "worker not restarted:\n" + log.read_text(),
        )
        assert re.search(r"worker exited with code -9; restarting", log.read_text())
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0


def _children(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return []


def _gone(p: psutil.Process) -> bool:
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _start_up(rig, env, name: str) -> tuple[subprocess.Popen, list[psutil.Process]]:
    log = rig.logs / f"{name}.log"
    proc = _popen_up(rig, ["--interval", "3600"], env, log)

    def all_four() -> bool:
        names = " ".join(" ".join(c.cmdline()) for c in _children(proc) if not _gone(c))
        return all(part in names for part in ("worker", "share", "kiosk", "mosquitto"))

    wait_until(all_four, 90, lambda: f"{name}: not all children up:\n" + log.read_text())
    # settled: the share server answers and the worker says it is online
    wait_until(
        lambda: (
            http_ok(f"http://127.0.0.1:{rig.share_port}/healthz")
            and re.search(r"mqtt worker-\S+: connected", log.read_text())
        ),
        90,
        lambda: f"{name}: not settled:\n" + log.read_text(),
    )
    return proc, _children(proc)


def test_up_children_end_however_up_ends_and_a_second_up_is_refused(rig):
    """kill -9 and a closed terminal (SIGHUP) of `booth up` leave nothing running; while one
    runs, a second `booth up` on the same data dir refuses and says who holds it."""
    env = up_env(rig)
    first, children = _start_up(rig, env, "up-first")
    try:
        second = subprocess.run(
            BOOTH + ["up", "--no-kiosk"],
            env=env,
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 75, second.stdout + second.stderr
        said = second.stdout + second.stderr
        assert "already running for data dir" in said and f"pid {first.pid}" in said, said
        assert "private mosquitto" not in said  # it started nothing
        # a kiosk or a share server of its own on the same data dir is refused too
        for role, extra in (
            ("share", ["--port", str(free_port()), "--no-mqtt"]),
            ("kiosk", ["--headless"]),
        ):
            other = subprocess.run(
                BOOTH + [role, *extra],
                env=env,
                cwd=str(ROOT),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert other.returncode == 75, other.stdout + other.stderr
            assert "already running for data dir" in other.stderr, other.stderr
        assert all(not _gone(c) for c in children)  # the first is untouched

        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        wait_until(
            lambda: all(_gone(c) for c in children),
            60,
            lambda: f"left running after kill -9: {[c for c in children if not _gone(c)]}",
        )
    finally:
        for c in children:
            if not _gone(c):
                c.kill()

    # the locks died with it: a new `booth up` starts, and a closed terminal stops it all
    third, children = _start_up(rig, env, "up-third")
    try:
        os.kill(third.pid, signal.SIGHUP)
        assert third.wait(60) == 0
        assert all(_gone(c) for c in children), [c for c in children if not _gone(c)]
    finally:
        for c in children:
            if not _gone(c):
                c.kill()


def test_the_rig_ends_a_booth_up_and_all_it_started(tmp_path, broker):
    """What the rig fixture's finalizer does after a test fails mid-way: a `booth up` the test
    started itself and everything it started (each child in a session of its own, the private
    broker) end with Rig.close(), which returns only once they are gone."""
    from tests.e2e.rig import TAG_ENV, Rig

    inner = Rig(tmp_path / "inner", broker)
    try:
        up, children = _start_up(inner, up_env(inner), "up-closed")
    except BaseException:
        inner.close()
        raise
    assert len(children) >= 4 and all(not _gone(c) for c in children), children
    inner.close()
    assert up.poll() is not None
    assert all(_gone(c) for c in children), [c for c in children if not _gone(c)]

    def tagged(p: psutil.Process) -> bool:
        try:
            return p.environ().get(TAG_ENV) == inner.tag and not _gone(p)
        except psutil.Error:
            return False

    assert not [p for p in psutil.process_iter() if tagged(p)]
