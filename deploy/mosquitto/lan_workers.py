"""Write mosquitto's dynamic-security file for the booth's LAN listener (run by install.sh).

    lan_workers.py EXISTING_JSON WORKERS_DIR TOPIC_ROOT  > booth-lan.json

One client per worker machine (`worker-NAME`, its password from WORKERS_DIR/NAME.env), all with
the role below; everything not granted is refused, subscriptions included (mosquitto's acl_file
cannot refuse a subscription; this plugin can). A worker machine may:
  - subscribe to `$share/workers/ROOT/+/jobs` only, and receive the jobs that brings;
  - publish statuses and results of any booth's jobs, and its availability and health.
It can read no status or result (guests' pictures), publish no job, and not subscribe to `#`.

Idempotent: a client whose stored hash still matches its password keeps its salt, so a second
run writes the same file (install.sh then reports no change).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ITERATIONS = 10_000  # PBKDF2-SHA512, checked once per connection
SALT_BYTES = 12  # what mosquitto's dynamic security plugin expects


def role(root: str) -> dict:
    def acl(kind: str, topic: str) -> dict:
        return {"acltype": kind, "topic": topic, "allow": True, "priority": 0}

    return {
        "rolename": "booth-worker",
        "textname": "a worker machine on the LAN",
        "acls": [
            acl("subscribeLiteral", f"$share/workers/{root}/+/jobs"),
            acl("unsubscribeLiteral", f"$share/workers/{root}/+/jobs"),
            acl("publishClientReceive", f"{root}/+/jobs"),
            acl("publishClientSend", f"{root}/+/status/+"),
            acl("publishClientSend", f"{root}/+/results/+"),
            acl("publishClientSend", f"{root}/workers/+/availability"),
            acl("publishClientSend", f"{root}/workers/+/health"),
        ],
    }


def password_of(envfile: Path) -> str:
    for line in envfile.read_text(encoding="utf-8").splitlines():
        if line.startswith("BOOTH_MQTT_URL="):
            url = urlsplit(line.split("=", 1)[1].strip())
            if url.password:
                return unquote(url.password)
    raise SystemExit(f"lan_workers.py: no password in {envfile}")


def hashed(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)


def client(name: str, password: str, old: dict | None) -> dict:
    salt = None
    if old and old.get("iterations") == ITERATIONS:
        try:
            old_salt = base64.b64decode(old["salt"])
            if hmac.compare_digest(hashed(password, old_salt), base64.b64decode(old["password"])):
                salt = old_salt
        except (KeyError, ValueError):
            salt = None
    salt = salt or os.urandom(SALT_BYTES)
    return {
        "username": f"worker-{name}",
        "textname": f"worker machine {name}",
        "salt": base64.b64encode(salt).decode(),
        "password": base64.b64encode(hashed(password, salt)).decode(),
        "iterations": ITERATIONS,
        "roles": [{"rolename": "booth-worker"}],
    }


def main(existing: str, workers_dir: str, root: str) -> None:
    try:
        old = {c["username"]: c for c in json.loads(Path(existing).read_text())["clients"]}
    except (OSError, ValueError, KeyError, TypeError):
        old = {}
    clients = [
        client(env.stem, password_of(env), old.get(f"worker-{env.stem}"))
        for env in sorted(Path(workers_dir).glob("*.env"))
    ]
    json.dump(
        {
            "defaultACLAccess": {
                "publishClientSend": False,
                "publishClientReceive": False,
                "subscribe": False,
                "unsubscribe": False,
            },
            "clients": clients,
            "groups": [],
            "roles": [role(root)],
        },
        sys.stdout,
        indent=1,
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
