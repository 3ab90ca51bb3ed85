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

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from booth.config import CloudConfig

PRESIGN_MAX_S = 7 * 86400  # SigV4's limit for a presigned URL


class CloudError(Exception):
    """A bucket operation that failed; `kind` says whether waiting helps.

    kinds: `offline` (no connection, timeout, 5xx: retry with backoff), `credentials` (the key
    id or secret is wrong or lacks rights), `bucket` (no such bucket), `clock` (the request
    time is too far from the server's), `config` (the settings cannot work), `other`.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def transient(self) -> bool:
        return self.kind in ("offline", "other")


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
        from obstore.store import S3Store  # only the process that uploads pays for the import

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
        timeout = f"{cloud.timeout_s:g}s"
        self.store = S3Store(
            cloud.bucket,
            endpoint=self.endpoint.url,
            region=cloud.region,
            access_key_id=cloud.access_key_id,
            secret_access_key=cloud.secret_access_key,
            virtual_hosted_style_request=self.endpoint.virtual,
            client_options={
                "allow_http": self.endpoint.url.startswith("http://"),
                "timeout": timeout,
                "connect_timeout": f"{min(cloud.timeout_s, 10):g}s",
            },
            retry_config={
                "max_retries": 1,
                "retry_timeout": timedelta(seconds=cloud.timeout_s),
                "backoff": {
                    "init_backoff": timedelta(milliseconds=200),
                    "max_backoff": timedelta(seconds=1),
                    "base": 2,
                },
            },
        )

    def put(
        self,
        key: str,
        data: bytes | Path,
        content_type: str,
        *,
        disposition: str | None = None,
        cache_control: str = "private, max-age=86400",
    ) -> None:
        import obstore

        attributes = {"Content-Type": content_type, "Cache-Control": cache_control}
        if disposition:
            attributes["Content-Disposition"] = disposition
        try:
            # One PUT (S3 takes up to 5 GB that way): a crash leaves no stray multipart parts.
            # A Path is read by the client itself, never as one Python bytes object.
            obstore.put(self.store, key, data, attributes=attributes, use_multipart=False)
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
