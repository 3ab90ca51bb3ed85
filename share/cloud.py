"""The bucket: put, delete and link objects in any S3-API service (AWS S3, Cloudflare R2,
Backblaze B2, MinIO, Garage), and say in plain words what went wrong.

Why obstore (docs/share.md, "Cloud sharing"): a Rust S3 client with one small Python
dependency, prebuilt aarch64 wheels, ~25 ms import and ~11 MB RSS here, against ~260 ms and
~41 MB for boto3 — the share process stays light on a Pi. Its own retries are kept to one:
the upload queue (`share/uploader.py`) owns the backoff, so a dead network never holds a thread
for minutes.

Only the share process and `booth doctor` import this module; the kiosk never loads a client.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from booth.config import CloudConfig

if TYPE_CHECKING:
    from obstore.store import S3Store

PRESIGN_MAX_S = 7 * 86400  # SigV4's limit for a presigned URL
MIN_UPLINK_BPS = 8 * 1024  # the slowest share of an uplink an upload is given time for


class CloudError(Exception):
    """A bucket operation that failed; `kind` says whether waiting helps.

    kinds: `offline` (no connection, 5xx: retry with backoff), `timeout` (no answer within
    `cloud.timeout_s`, which counts the whole upload: the uplink may only be slow),
    `credentials` (the key id or secret is wrong or lacks rights), `bucket` (no such bucket),
    `clock` (the request time is too far from the server's), `config` (the settings cannot
    work), `other`.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def transient(self) -> bool:
        return self.kind in ("offline", "timeout", "other")


_CODE_RE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS_RE = re.compile(r"\bstatus\D{0,12}([1-5]\d\d)\b")
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "Unauthorized",
    "AuthorizationHeaderMalformed",
    "InvalidArgument",
}
_CLOCK_CODES = {"RequestTimeTooSkewed", "RequestExpired"}


def classify(exc: BaseException, where: str) -> CloudError:
    """One plain sentence for the log and `booth doctor` from an obstore exception."""
    if isinstance(exc, CloudError):
        return exc
    text = str(exc)
    code_m = _CODE_RE.search(text)
    code = code_m.group(1) if code_m else ""
    status_m = _STATUS_RE.search(text)
    status = int(status_m.group(1)) if status_m else 0
    name = type(exc).__name__
    if code in _CLOCK_CODES:
        return CloudError(
            "clock",
            f"{where}: the bucket says this machine's clock is wrong "
            f"({code}); signatures only work within 15 minutes of the real time",
        )
    if code == "NoSuchBucket":
        return CloudError("bucket", f"{where}: the bucket does not exist (NoSuchBucket)")
    if (
        code in _CREDENTIAL_CODES
        or name in ("PermissionDeniedError", "UnauthenticatedError")
        or status in (401, 403)
    ):
        why = code or (f"HTTP {status}" if status else name)
        return CloudError(
            "credentials",
            f"{where}: the bucket refused the credentials ({why}); "
            "check BOOTH_CLOUD_ACCESS_KEY_ID / BOOTH_CLOUD_SECRET_ACCESS_KEY and "
            "the key's rights on the bucket",
        )
    if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        return CloudError("offline", f"{where}: the bucket service answered {code or status}")
    if "kind: Timeout" in text:  # object_store's HttpErrorKind: the request's own timeout
        return CloudError(
            "timeout",
            f"{where}: no answer within the request timeout (cloud.timeout_s counts the whole "
            "upload: the uplink is too slow for it, or the network is down)",
        )
    if (
        "error sending request" in text
        or "timed out" in text.lower()
        or "connect" in text.lower()
        or "dns" in text.lower()
    ):
        return CloudError(
            "offline",
            f"{where}: cannot reach the bucket's endpoint (no network, or the service is down)",
        )
    if isinstance(exc, FileNotFoundError):  # obstore raises Python's own for a 404
        return CloudError("other", f"{where}: not found")
    first = text.strip().splitlines()[0] if text.strip() else name
    # object keys are link secrets: obstore names them as a URL, "at location KEY" (404) or
    # "for path KEY" (409, 412)
    first = re.sub(r"https?://\S+", "<url>", first)
    first = re.sub(r"(?<=location |for path )\S+", "<key>", first)
    return CloudError("other", f"{where}: {first[:200]}")


def masked(key: str) -> str:
    """An object key for logs: its random part is the secret of a public link."""
    head, _, name = key.rpartition("/")
    return f"{head}/…{name[-6:]}" if head else f"…{name[-6:]}"


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and what a presigned link looks like."""

    url: str  # what the client talks to (bucket in the host for virtual style)
    virtual: bool


def endpoint_for(cloud: CloudConfig) -> Endpoint:
    style = cloud.addressing_style
    if not cloud.endpoint_url:  # AWS S3: the client builds the regional endpoint
        virtual = style != "path"
        host = (
            f"{cloud.bucket}.s3.{cloud.region}.amazonaws.com"
            if virtual
            else f"s3.{cloud.region}.amazonaws.com"
        )
        return Endpoint(f"https://{host}", virtual)
    virtual = style == "virtual"
    parts = urlsplit(cloud.endpoint_url.rstrip("/"))
    if virtual:
        netloc = f"{cloud.bucket}.{parts.netloc}"
        return Endpoint(urlunsplit((parts.scheme, netloc, parts.path, "", "")), True)
    return Endpoint(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), False)


class Bucket:
    """One bucket through obstore; every method raises CloudError on failure."""

    def __init__(self, cloud: CloudConfig) -> None:
        if not cloud.bucket:
            raise CloudError("config", "cloud.bucket is not set")
        if not (cloud.access_key_id and cloud.secret_access_key):
            raise CloudError(
                "credentials",
                "no bucket credentials: set BOOTH_CLOUD_ACCESS_KEY_ID "
                "and BOOTH_CLOUD_SECRET_ACCESS_KEY (in /etc/booth/cloud.env)",
            )
        self.cloud = cloud
        self.endpoint = endpoint_for(cloud)
        self._stores: dict[int, S3Store] = {}
        self.store = self._store(cloud.timeout_s)

    def _store(self, timeout_s: float) -> S3Store:
        """A client whose requests time out after `timeout_s` (obstore sets it per client):
        `cloud.timeout_s`, or above it the next power of two seconds, so a handful of clients
        serve every photo size. Its own retries are one, within that time: the queue owns the
        backoff."""
        from obstore.store import S3Store  # only the process that uploads pays for the import

        whole = max(1, math.ceil(self.cloud.timeout_s))
        if timeout_s > whole:
            whole = 2 ** math.ceil(math.log2(timeout_s))
        if whole not in self._stores:
            c = self.cloud
            self._stores[whole] = S3Store(
                c.bucket,
                endpoint=self.endpoint.url,
                region=c.region,
                access_key_id=c.access_key_id,
                secret_access_key=c.secret_access_key,
                virtual_hosted_style_request=self.endpoint.virtual,
                client_options={
                    "allow_http": self.endpoint.url.startswith("http://"),
                    "timeout": f"{whole}s",
                    "connect_timeout": f"{min(c.timeout_s, 10):g}s",
                },
                retry_config={
                    "max_retries": 1,
                    "retry_timeout": timedelta(seconds=whole),
                    "backoff": {
                        "init_backoff": timedelta(milliseconds=200),
                        "max_backoff": timedelta(seconds=1),
                        "base": 2,
                    },
                },
            )
        return self._stores[whole]

    def upload_timeout(self, size: int) -> float:
        """How long a PUT of `size` bytes may take: `cloud.timeout_s`, plus the time the body
        takes at MIN_UPLINK_BPS. The timeout counts the whole request, and uploads at once
        share the uplink: a fixed 30 s failed every upload of a backlog four wide on a
        64 kB/s uplink, round after round."""
        return self.cloud.timeout_s + size / MIN_UPLINK_BPS

    def put(
        self,
        key: str,
        data: bytes | Path,
        content_type: str,
        *,
        disposition: str | None = None,
        cache_control: str = "private, max-age=86400",
        timeout_s: float | None = None,
    ) -> None:
        """`timeout_s`: the whole request's (default `cloud.timeout_s`; see upload_timeout)."""
        import obstore

        attributes = {"Content-Type": content_type, "Cache-Control": cache_control}
        if disposition:
            attributes["Content-Disposition"] = disposition
        try:
            # One PUT (S3 takes up to 5 GB that way): a crash leaves no stray multipart parts.
            # A Path is read by the client itself, never as one Python bytes object.
            store = self.store if timeout_s is None else self._store(timeout_s)
            obstore.put(store, key, data, attributes=attributes, use_multipart=False)
        except Exception as exc:
            raise classify(exc, f"upload of {masked(key)}") from None

    def delete(self, keys: list[str]) -> None:
        """Delete objects; a key that is already gone is not an error (S3 answers 204)."""
        import obstore

        if not keys:
            return
        try:
            obstore.delete(self.store, keys)
        except Exception as exc:
            raise classify(exc, f"delete of {len(keys)} object(s)") from None

    def link(self, key: str, expires_s: float) -> str:
        """The guest's link: public base URL + key, or a presigned GET (offline computation)."""
        base = self.cloud.public_base_url.rstrip("/")
        if base:
            return f"{base}/{quote(key)}"
        import obstore

        seconds = int(max(1, min(expires_s, PRESIGN_MAX_S)))
        return obstore.sign(self.store, "GET", key, timedelta(seconds=seconds))
