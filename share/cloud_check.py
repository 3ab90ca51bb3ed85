"""`booth doctor`'s bucket check: the whole path a guest's link takes, tried once.

Credentials, a probe object written, read back through the same kind of link the guests get
(public base URL or presigned) and deleted, and the clock compared with the server's `Date`
header — SigV4 refuses requests more than 15 minutes off, and a presigned link's lifetime is
counted from this machine's clock.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from datetime import datetime
from email.utils import parsedate_to_datetime

from booth.config import Config
from share.cloud import Bucket, CloudError

OK, WARN, FAIL = "ok", "warn", "fail"
SKEW_FAIL_S = 15 * 60  # S3 refuses signatures beyond this (RequestTimeTooSkewed)
SKEW_WARN_S = 60
CREDENTIALS_FIX = (
    "put BOOTH_CLOUD_ACCESS_KEY_ID and BOOTH_CLOUD_SECRET_ACCESS_KEY in "
    "/etc/booth/cloud.env (a key with read, write and delete on the bucket), "
    "restart booth-share, and run doctor with --env-file /etc/booth/cloud.env"
)
_FIX = {
    "credentials": CREDENTIALS_FIX,
    "bucket": "create the bucket, or fix cloud.bucket / cloud.region / cloud.endpoint_url",
    "clock": "set the clock: timedatectl set-ntp true (a Pi has no battery-backed clock)",
    "offline": "check the internet connection and cloud.endpoint_url",
    "timeout": "check the internet connection; on a slow uplink raise cloud.timeout_s",
    "config": "fix the [cloud] settings in /etc/booth/booth.toml",
    "other": "check the [cloud] settings and the bucket's permissions",
}


def server_time(url: str, timeout_s: float) -> datetime | None:
    """The `Date` header of any answer from the endpoint (a 403 has one too)."""
    req = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            date = resp.headers.get("Date")
    except urllib.error.HTTPError as exc:
        date = exc.headers.get("Date")
    except (OSError, ValueError):
        return None
    try:
        return parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None


def _read(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return resp.read()


def bucket_check(cfg: Config, now: datetime, timeout_s: float = 15.0) -> tuple[str, str, str]:
    """(level, what was found, how to fix it)."""
    c = cfg.cloud
    if not c.enabled:
        return OK, "off: guests download over the booth Wi-Fi only", ""
    where = f"bucket {c.bucket!r} at {c.endpoint_url or 'AWS ' + c.region}"
    try:
        bucket = Bucket(c)
    except CloudError as exc:
        return FAIL, exc.message, _FIX.get(exc.kind, "")
    skew_note = "clock not compared (no Date from the endpoint)"
    ep = bucket.endpoint
    served = server_time(ep.url if ep.virtual else f"{ep.url}/{c.bucket}", timeout_s)
    if served is not None:
        skew = (now - served).total_seconds()
        if abs(skew) > SKEW_FAIL_S:
            return (
                FAIL,
                (
                    f"this machine's clock is {abs(skew) / 60:.0f} min "
                    f"{'ahead of' if skew > 0 else 'behind'} the bucket's: uploads are "
                    "refused"
                ),
                _FIX["clock"],
            )
        skew_note = f"clock within {abs(skew):.0f} s of the bucket's"
        if abs(skew) > SKEW_WARN_S:
            return (
                WARN,
                (
                    f"{where} works only while the clock stays close: it is "
                    f"{abs(skew):.0f} s off, and links last that much more or less"
                ),
                _FIX["clock"],
            )
    key = f"{c.key_prefix}doctor-probe-{secrets.token_urlsafe(12)}.txt"
    body = b"booth doctor probe " + secrets.token_bytes(8).hex().encode()
    kind = "public" if c.public_base_url else "presigned"
    try:
        bucket.put(key, body, "text/plain", cache_control="no-store")
    except CloudError as exc:
        return FAIL, f"{where}: {exc.message}", _FIX.get(exc.kind, "")
    try:
        link = bucket.link(key, 300)
        try:
            got = _read(link, timeout_s)
        except (OSError, ValueError) as exc:
            fix = (
                "make public_base_url serve the bucket (public bucket, CDN or custom domain "
                "pointing at it), or leave it empty for presigned links"
                if c.public_base_url
                else _FIX["other"]
            )
            return (
                FAIL,
                (f"{where}: the probe was written but its {kind} link does not serve it ({exc})"),
                fix,
            )
        if got != body:
            return (
                FAIL,
                f"{where}: the {kind} link served something else than the probe",
                "check cloud.public_base_url: it must point at this bucket and key prefix",
            )
    finally:
        try:
            bucket.delete([key])
            deleted = True
        except CloudError:
            deleted = False
    if not deleted:
        return (
            FAIL,
            f"{where}: the probe was written and read but could not be deleted",
            "give the key the right to delete objects (retention deletes guests' photos)",
        )
    return OK, (f"{where}: write, read through a {kind} link and delete work; {skew_note}"), ""
