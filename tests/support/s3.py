"""Real S3-protocol HTTP servers for the tests, on free loopback ports, reached over HTTP by the
product's own client (obstore) exactly as a bucket on the internet would be. The test side
administers them with boto3 (a moto dependency), never with the product's code, so a test reads
back what really landed in the bucket.

Two independent implementations, because each checks what the other does not (docs/share.md,
"Cloud tests"):
- `MotoS3` (`moto`, Python, in this process): `require_signatures()` turns on its SigV4 checking
  against IAM access keys (off by default), so a wrong secret is refused as by a real service;
  it cannot check presigned GETs in that mode, and never checks a presigned link's expiry.
- `S3rver` (`s3rver` 3.7.1, Node.js, a child process; deploy/setup-dev.sh installs it in
  .venv/npm): accepts only the access key id S3RVER (InvalidAccessKeyId otherwise); checks the
  old V2 signatures but not SigV4's (its lib/middleware/authentication.js), which is what the
  booth signs with, so a wrong secret passes; refuses a
  presigned link past its expiry; serves every object to anyone; stores an upload as it arrives,
  so a PUT cut off midway leaves a truncated object under the real key.

`stop()` and `start()` take a server off the network and back on the same port with its buckets
kept (moto in this process's memory, s3rver in its directory): a bucket that stays while the
network is down.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.mosquitto import free_port, port_open

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
# where deploy/setup-dev.sh --test installs it (its npm_pkgs, pinned)
S3RVER_JS = ROOT / ".venv" / "npm" / "node_modules" / "s3rver" / "bin" / "s3rver.js"
S3RVER_KEY = "S3RVER"  # the only key id s3rver knows; it checks no secret

MOTO_ADMIN = {"aws_access_key_id": "moto-admin", "aws_secret_access_key": "moto-admin"}
# what the booth is configured with against moto (any key while signatures are off)
CREDS = {"BOOTH_CLOUD_ACCESS_KEY_ID": "AKIDBOOTHTEST", "BOOTH_CLOUD_SECRET_ACCESS_KEY": "s3cr3t"}


class S3Base:
    """What the tests use of either server."""

    kind = ""
    checks_signatures = False  # can refuse a wrong secret (require_signatures)

    def __init__(self, bucket: str = "") -> None:
        self.port = free_port()
        self.bucket = bucket or f"booth-photos-{uuid.uuid4().hex[:12]}"
        self._admin: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def creds(self) -> dict[str, str]:
        """The booth's BOOTH_CLOUD_* environment for this server."""
        return dict(CREDS)

    def start(self) -> S3Base:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop for good (and remove what it keeps on disk)."""
        self.stop()

    def client(self, service: str = "s3") -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1", **self._admin
        )

    def create_bucket(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)

    def make_public(self) -> None:
        """Anyone may read objects: what an operator does for a public base URL."""
        raise NotImplementedError

    def objects(self, prefix: str = "") -> dict[str, int]:
        """key → size of every object in the bucket (what really landed)."""
        out: dict[str, int] = {}
        for page in (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        ):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj["Size"]
        return out

    def head(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client().head_object(Bucket=self.bucket, Key=key)
        return result

    def read(self, key: str) -> bytes:
        """An object's bytes as the server serves them."""
        body: bytes = self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def access_key(self, user: str = "") -> tuple[str, str]:
        raise NotImplementedError(f"{self.kind} has no IAM")

    @contextmanager
    def require_signatures(self) -> Iterator[None]:
        raise NotImplementedError(f"{self.kind} checks no signatures")
        yield


class MotoS3(S3Base):
    """moto's ThreadedMotoServer; buckets and IAM users live in this process's memory."""

    kind = "moto"
    checks_signatures = True

    def __init__(self, bucket: str = "") -> None:
        super().__init__(bucket)  # a fresh bucket name per server: moto shares its memory
        self._server: ThreadedMotoServer | None = None
        self._admin = dict(MOTO_ADMIN)

    def start(self) -> MotoS3:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        end = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > end:
                raise RuntimeError("moto server did not open its port")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def make_public(self) -> None:
        self.client().put_bucket_policy(
            Bucket=self.bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{self.bucket}/*",
                        }
                    ],
                }
            ),
        )

    def access_key(self, user: str = "") -> tuple[str, str]:
        """An IAM user allowed s3:* and its key pair (what a real operator creates)."""
        user = user or f"booth-{uuid.uuid4().hex[:8]}"  # IAM users too live process-wide
        iam = self.client("iam")
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user,
            PolicyName="booth-s3",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def _auth(self, count: str) -> None:
        req = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    @contextmanager
    def require_signatures(self) -> Iterator[None]:
        """Signatures checked; the test's own admin client gets a real key for that time."""
        key_id, secret = self.access_key(f"admin-{uuid.uuid4().hex[:8]}")
        self._auth("0")
        self._admin.update(aws_access_key_id=key_id, aws_secret_access_key=secret)
        try:
            yield
        finally:
            self._auth("inf")
            self._admin = dict(MOTO_ADMIN)


class S3rver(S3Base):
    """`node s3rver.js` on its own directory; stop() kills it, start() runs it again there."""

    kind = "s3rver"

    def __init__(self, bucket: str = "") -> None:
        super().__init__(bucket)
        self.dir = Path(tempfile.mkdtemp(prefix="s3rver-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin = {"aws_access_key_id": S3RVER_KEY, "aws_secret_access_key": S3RVER_KEY}

    @property
    def creds(self) -> dict[str, str]:
        return {
            "BOOTH_CLOUD_ACCESS_KEY_ID": S3RVER_KEY,
            "BOOTH_CLOUD_SECRET_ACCESS_KEY": "not-checked-by-s3rver",
        }

    def start(self) -> S3rver:
        node = shutil.which("node")
        if node is None:  # as the other npm-driven tests (deploy/setup-dev.sh says so)
            import pytest

            pytest.skip("no Node.js on this machine: s3rver cannot run")
        if not S3RVER_JS.exists():
            raise RuntimeError(
                f"s3rver is not installed ({S3RVER_JS}): run `deploy/setup-dev.sh --test` "
                "(make test does)"
            )
        log = (self.dir / "s3rver.log").open("ab")
        self._proc = subprocess.Popen(
            [node, str(S3RVER_JS), "-d", str(self.dir / "data"), "-a", "127.0.0.1"]
            + ["-p", str(self.port), "--no-vhost-buckets"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        log.close()
        end = time.monotonic() + 20
        while not port_open(self.port):
            if self._proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError(
                    "s3rver did not open its port: " + (self.dir / "s3rver.log").read_text()[-2000:]
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()  # as a server cut off the network would: mid-request
            proc.wait(10)

    def close(self) -> None:
        """Stop and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def make_public(self) -> None:
        """Nothing to do: s3rver serves every object to anyone."""

    def object_file(self, key: str) -> Path:
        """Where s3rver keeps an object's bytes (to see a truncated one as it is on disk)."""
        return self.dir / "data" / self.bucket / f"{key}._S3rver_object"


S3_KINDS = ("moto", "s3rver")


def s3_server(kind: str, bucket: str = "") -> S3Base:
    if kind == "moto":
        return MotoS3(bucket)
    if kind == "s3rver":
        return S3rver(bucket)
    raise ValueError(f"unknown S3 server {kind!r}; one of {S3_KINDS}")


def cloud_toml(
    s3: S3Base,
    *,
    public_base_url: str = "",
    extra: str = "",
    retry_max_s: float = 1.0,
    timeout_s: float = 5.0,
    endpoint: str = "",
) -> str:
    """The [cloud] table pointing at the test server (or at `endpoint`, a proxy before it)."""
    public = f'public_base_url = "{public_base_url}"\n' if public_base_url else ""
    return (
        f'[cloud]\nenabled = true\nendpoint_url = "{endpoint or s3.endpoint}"\n'
        f'region = "us-east-1"\nbucket = "{s3.bucket}"\nkey_prefix = "booth/"\n'
        f'addressing_style = "path"\nretry_max_s = {retry_max_s}\ntimeout_s = {timeout_s:g}\n'
        f"{public}{extra}"
    )
