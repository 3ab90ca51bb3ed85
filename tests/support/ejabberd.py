"""A real ejabberd (Debian's, 23.01) as a second MQTT 5 broker, on a free loopback port.

Shaped like tests/support/mosquitto.py (start, stop, restart, url). Each instance is a private
Erlang node: its own config, spool (mnesia) and log dirs in a temp dir, its own node name and
distribution port (ERL_DIST_PORT, so no epmd is started or needed), and MQTT (mod_mqtt) as its
only listener. Several run side by side under pytest-xdist.

ejabberdctl runs only as root (it switches to the `ejabberd` user) or as `ejabberd`: the node is
started as that user directly (`ejabberdctl foreground` in a process group of its own, so stop
ends all of it), which is why its files are in a temp dir of their own and not in the test's
tmp_path (pytest's base temp dir is readable by its owner only). The logs are copied into
`workdir` when it stops. MQTT logins are ejabberd users: `url` carries the one made at start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import mosquitto
from tests.support.mosquitto import free_port, port_open

EJABBERDCTL = shutil.which("ejabberdctl") or "/usr/sbin/ejabberdctl"
USER, PASSWORD, HOST = "booth", "booth-secret", "localhost"
RUN_AS = "ejabberd"  # the user Debian's ejabberdctl insists on


class Ejabberd:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.dist_port = free_port()
        self.node = f"booth{self.port}@{HOST}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._run: Path | None = None  # the node's own dir (config, spool, logs)
        self._registered = False

    @property
    def url(self) -> str:
        return f"mqtt://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "ejabberd.log"

    # ------------------------------------------------------------------ files
    def _write_conf(self, run: Path) -> None:
        for sub in ("conf", "spool", "logs"):
            (run / sub).mkdir(exist_ok=True)
        (run / "conf" / "ejabberd.yml").write_text(
            f"""hosts:
  - {HOST}
loglevel: info
log_rotate_count: 0
listen:
  -
    port: {self.port}
    ip: "127.0.0.1"
    module: mod_mqtt
modules:
  mod_mqtt: {{}}
"""
        )
        (run / "conf" / "ejabberdctl.cfg").write_text(
            f"""ERLANG_NODE={self.node}
ERL_DIST_PORT={self.dist_port}
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {{127,0,0,1}}"
EJABBERD_BYPASS_WARNINGS=true
"""
        )
        # the host table the node resolves with (ejabberdctl points ERL_INETRC here)
        (run / "conf" / "inetrc").write_text(
            '{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n'
        )

    def _ctl(self, *args: str) -> list[str]:
        run = self._require_run()
        return [
            EJABBERDCTL,
            "--config-dir",
            str(run / "conf"),
            "--config",
            str(run / "conf" / "ejabberd.yml"),
            "--ctl-config",
            str(run / "conf" / "ejabberdctl.cfg"),
            "--logs",
            str(run / "logs"),
            "--spool",
            str(run / "spool"),
            *args,
        ]

    def _require_run(self) -> Path:
        if self._run is None:
            raise RuntimeError("ejabberd has no run dir: start() it first")
        return self._run

    def _as_user(self) -> tuple[dict[str, str], str | None]:
        """The environment and user ejabberdctl runs with (HOME holds the node's cookie)."""
        env = dict(os.environ, HOME=str(self._require_run()))
        if os.geteuid() == 0:
            return env, RUN_AS
        if pwd.getpwuid(os.geteuid()).pw_name == RUN_AS:
            return env, None
        raise RuntimeError("ejabberdctl runs only as root or as the user ejabberd")

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> Ejabberd:
        if self.proc and self.proc.poll() is None:
            return self
        if mosquitto.test_may_start_broker is False:
            raise RuntimeError(
                "this test starts an ejabberd but has no `broker` mark: mark it "
                "@pytest.mark.broker (tests/conftest.py sorts broker tests out of test-quick)"
            )
        if not Path(EJABBERDCTL).exists():
            raise RuntimeError("ejabberd is not installed: deploy/setup-dev.sh --test installs it")
        if self._run is None:
            self._run = Path(tempfile.mkdtemp(prefix=f"booth-ejabberd-{self.port}-"))
            self._run.chmod(0o755)
            self._write_conf(self._run)
            if os.geteuid() == 0:
                entry = pwd.getpwnam(RUN_AS)
                for path in [self._run, *self._run.rglob("*")]:
                    os.chown(path, entry.pw_uid, entry.pw_gid)
        env, user = self._as_user()
        self.proc = subprocess.Popen(
            self._ctl("foreground"),
            env=env,
            user=user,
            cwd=str(self._run),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        end = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > end:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.stop(kill=True)
                raise RuntimeError(f"ejabberd did not listen on {self.port}: {err}{self._tail()}")
            time.sleep(0.05)
        if not self._registered:
            self._register(USER, PASSWORD)
            self._registered = True
        return self

    def _register(self, user: str, password: str) -> None:
        env, run_as = self._as_user()
        done = subprocess.run(
            self._ctl("register", user, HOST, password),
            env=env,
            user=run_as,
            cwd=str(self._require_run()),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0 and "already registered" not in done.stdout + done.stderr:
            raise RuntimeError(f"ejabberdctl register failed: {done.stdout}{done.stderr}")

    def stop(self, kill: bool = False) -> None:
        """End the node (SIGTERM stops an Erlang node cleanly; kill: SIGKILL) and keep its logs
        in `workdir`. The node's files stay for a restart until `close()`."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            try:  # the beam is a grandchild: make sure nothing of the group is left
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None and proc.stderr:
            proc.stderr.close()
        end = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < end:
            time.sleep(0.05)
        self._keep_logs()

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()

    def close(self) -> None:
        """Stop (at once) and remove the node's temp dir."""
        self.stop(kill=True)
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)
            self._run = None

    # ------------------------------------------------------------------ logs
    def _keep_logs(self) -> None:
        if self._run is None:
            return
        for name in ("ejabberd.log", "error.log"):
            src = self._run / "logs" / name
            if src.exists():
                shutil.copyfile(src, self.workdir / name)

    def _tail(self) -> str:
        self._keep_logs()
        return "\n" + self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def log_text(self) -> str:
        """The node's log so far."""
        self._keep_logs()
        return self.log.read_text(errors="replace") if self.log.exists() else ""
