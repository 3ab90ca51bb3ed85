"""A real S3-protocol HTTP server for the tests: moto's ThreadedMotoServer on a free loopback
port, reached over HTTP by the product's own client (obstore) exactly as a bucket on the
internet would be. The test side administers it with boto3 (a moto dependency), never with the
product's code, so a test reads back what really landed in the bucket.

`stop()` and `start()` take the server off the network and back on the same port; moto keeps
its buckets in memory across that (the same process), like a bucket that stays while the
network is down. `require_signatures()` turns on moto's SigV4 checking against IAM access keys
(it is off by default), so wrong credentials are refused as by a real service; moto cannot
check presigned GETs in that mode, so tests that read links leave it off.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests.support.mosquitto import free_port, port_open

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

ADMIN = {
    "aws_access_key_id": "moto-admin",
    "aws_secret_access_key": "moto-admin",
    "region_name": "us-east-1",
}


class S3Server:
    def __init__(self, bucket: str = "") -> None:
        self.port = free_port()
        # moto keeps every bucket in this process's memory: a fresh name per server
        self.bucket = bucket or f"booth-photos-{uuid.uuid4().hex[:12]}"
        self._server: ThreadedMotoServer | None = None
        self._admin = dict(ADMIN)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
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

    def client(self, service: str = "s3"):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, **self._admin)

    def create_bucket(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)

    def make_public(self) -> None:
        """Anyone may read objects: what an operator does for a public base URL."""
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

    def head(self, key: str) -> dict:
        return self.client().head_object(Bucket=self.bucket, Key=key)

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
            self._admin = dict(ADMIN)


def cloud_toml(
    s3: S3Server, *, public_base_url: str = "", extra: str = "", retry_max_s: float = 1.0
) -> str:
    """The [cloud] table pointing at the test server."""
    public = f'public_base_url = "{public_base_url}"\n' if public_base_url else ""
    return (
        f'[cloud]\nenabled = true\nendpoint_url = "{s3.endpoint}"\nregion = "us-east-1"\n'
        f'bucket = "{s3.bucket}"\nkey_prefix = "booth/"\naddressing_style = "path"\n'
        f"retry_max_s = {retry_max_s}\ntimeout_s = 5\n{public}{extra}"
    )


CREDS = {"BOOTH_CLOUD_ACCESS_KEY_ID": "AKIDBOOTHTEST", "BOOTH_CLOUD_SECRET_ACCESS_KEY": "s3cr3t"}
