"""`booth share` as a real process: serves, runs retention against the broker, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from booth.mqtt import MqttConnection, wait_for
from booth.protocol import JobStatus, Status, Topics
from jobstore.ledger import Ledger, ledger_path
from tests.share.helpers import ROOT, add_job
from tests.support.mosquitto import free_port


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def test_booth_share_process(make_config, broker, tmp_path):
    cfg = make_config("retention_days = 2\ntrust_clock = true\n")
    ledger = Ledger(ledger_path(cfg.data_dir))
    mqtt = MqttConnection(cfg.mqtt.url, "test-cli-publisher").start()
    proc = None
    try:
        assert mqtt.wait_connected(10)
        old = add_job(cfg, ledger, created_at=time.time() - 3 * 86400)
        job = add_job(cfg, ledger)
        topic = Topics(cfg.mqtt.root).status(cfg.booth_id, old.job_id)
        st = Status(job_id=old.job_id, booth_id=cfg.booth_id, status=JobStatus.COMPLETED)
        assert mqtt.publish_wait(topic, st.to_json(), 10, retain=True)
        seen: list[tuple[str, bytes]] = []
        port = free_port()
        conf = tmp_path / "share.toml"
        conf.write_text(
            f"retention_days = 2\ntrust_clock = true\n"
            f'[share]\nhost = "127.0.0.1"\nport = {port}\n'
            'public_url = "http://photos.test"\n'
        )
        env = dict(
            os.environ,
            BOOTH_MQTT_URL=broker.url,
            BOOTH_DATA_DIR=str(cfg.data_dir),
            BOOTH_ID=cfg.booth_id,
            PYTHONPATH=str(ROOT),
        )
        env.pop("BOOTH_ADMIN_PASSWORD", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "share", "--config", str(conf)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _get(f"{base}/healthz") == 200, 30, 0.1)
        assert _get(f"{base}/p/{job.token}") == 200
        assert _get(f"{base}/p/{job.token}/photo.jpg?dl=1") == 200
        assert _get(f"{base}/admin") == 404  # no BOOTH_ADMIN_PASSWORD
        # a malformed request (NUL in the path, carrying a token) is a 400 and one log line
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /p/" + job.token.encode() + b"\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(100).split(b" ")[1] == b"400"
        # retention runs a few seconds after start: old files, row and retained status go
        assert wait_for(lambda: ledger.get(old.job_id) is None, 60, 0.2)
        assert not any(f.exists() for f in old.files)
        marker = f"{cfg.mqtt.root}/{cfg.booth_id}/test-marker"
        checker = MqttConnection(
            cfg.mqtt.url,
            "test-cli-checker",
            subscriptions=[(topic, 1), (marker, 1)],
            on_message=lambda m: seen.append((m.topic, m.payload)),
        ).start()
        try:
            assert checker.wait_connected(10)
            # retained messages come on subscribe, before the marker published after it
            assert wait_for(
                lambda: mqtt.publish_wait(marker, b"m", 5) and any(t == marker for t, _ in seen),
                20,
                0.2,
            )
            assert [p for t, p in seen if t == topic and p] == []
        finally:
            checker.stop()
        assert job.result.exists() and ledger.get(job.job_id) is not None

        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode(errors="replace")
        text = out.decode(errors="replace")
        assert "http://photos.test/p/" in text
        assert job.token not in text and old.token not in text  # tokens are never logged
        assert "Traceback" not in text
        assert "rejected a malformed request" in text
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        mqtt.stop()
        ledger.close()
