"""The share server: aiohttp app that serves finished results to guests' phones by token.

Routes: `/p/{token}` (the guest's page; `/P/…` too, as the QR code carries it in upper case),
`/p/{token}/photo.jpg` (the file: ETag, conditional requests, Range and HEAD come from aiohttp's
FileResponse, sent with sendfile), `/` and `/{code}` (a typed short code; wrong codes are
rate-limited per client and overall) and `/healthz`. The operator gallery is not here: it is
another app on its own listener (`share/admin.py`). There is no static route and no directory
listing; every error a client sees is one of our own pages, never a trace. Guest pages speak
`kiosk.language`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from booth.clock import Clock, SystemClock
from booth.config import Config
from booth.mqtt import MqttConnection
from booth.texts import Texts
from jobstore.ledger import Ledger
from jobstore.links import CODE_PATH, PHOTO_PATHS
from jobstore.recovery import open_ledger
from jobstore.retention import run_retention
from share import pages
from share.auth import LoginThrottle
from share.lookup import PhotoLookup
from share.portal import Handler, add_portal_routes
from share.thumbs import ThumbCache

log = logging.getLogger("share.server")

CFG = web.AppKey("cfg", Config)
LEDGER = web.AppKey("ledger", Ledger)
LOOKUP = web.AppKey("lookup", PhotoLookup)
THUMBS = web.AppKey("thumbs", ThumbCache)
MQTT: web.AppKey[MqttConnection | None] = web.AppKey("mqtt")  # None: no broker (tests, tools)
TEXTS = web.AppKey("texts", Texts)
CODE_THROTTLE = web.AppKey("code_throttle", LoginThrottle)
PORTAL: web.AppKey[Handler] = web.AppKey("portal")  # the captive portal's catch-all
# Short codes are 30 bits: wrong guesses are limited per client address and for everyone
# together (a booth has at most a few thousand live codes, so a guess hits once in ~10**6).
CODE_WINDOW_S = 60.0
CODE_MAX_FAILURES = 10  # per client address per window
CODE_MAX_FAILURES_ALL = 100  # all clients together per window
CODE_ROUTE = CODE_PATH.replace("{code}", "{code:[0-9A-Za-z-]{6,7}}")

PHOTO_CACHE = "private, max-age=86400"  # the token is the secret: never cache in shared proxies
CHUNK = 256 * 1024


# ---------------------------------------------------------------------------- responses
def html_page(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=headers
    )
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _not_found(request: web.Request) -> web.Response:
    return html_page(
        pages.not_found_page(request.app[TEXTS], request.app[CFG].kiosk.title), status=404
    )


def _error(
    request: web.Request, status: int, reason: str, headers: dict[str, str] | None = None
) -> web.Response:
    return html_page(
        pages.error_page(request.app[TEXTS], request.app[CFG].kiosk.title, status, reason),
        status,
        headers,
    )


_KEEP_HEADERS = ("Retry-After", "Allow", "Set-Cookie", "Location")
_REASONS = {
    401: "Please log in to the operator page first.",
    403: "That request did not come from this page.",
    405: "That is not something this page can do.",
    429: "Too many wrong passwords. Wait a few minutes, then try again.",
}


@web.middleware
async def error_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every 4xx/5xx becomes a friendly page; unexpected exceptions are logged, never shown."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _not_found(request)
        keep = {k: v for k, v in exc.headers.items() if k in _KEEP_HEADERS}
        return _error(request, exc.status, _REASONS.get(exc.status, exc.reason), keep)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("share: internal error on %s %s", request.method, mask_path(request.path))
        return _error(request, 500, request.app[TEXTS]("page_error"))


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h["Server"] = "booth-share"
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Robots-Tag", "noindex, nofollow")
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    )


def mask_path(path: str) -> str:
    """A request path for logs: download tokens and short codes are secrets, so only the last
    4 characters of a token and none of a code."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] in ("p", "P"):
        parts[2] = "…" + parts[2][-4:] if len(parts[2]) > 4 else "…"
    elif len(parts) == 2 and 6 <= len(parts[1]) <= 7 and parts[1] not in ("healthz", "admin"):
        parts[1] = "…"
    return "/".join(parts)[:200]


class BadRequestFilter(logging.Filter):
    """Malformed requests from phones or scanners are the client's fault: one line, no trace.

    aiohttp logs them at ERROR with a traceback (and the request line, which may hold a token).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "share: rejected a malformed request (%s %s)"
            record.args = (getattr(exc, "code", 400), type(exc).__name__)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_bad_requests() -> None:
    logging.getLogger("aiohttp.server").addFilter(BadRequestFilter())


class MaskedAccessLogger(AbstractAccessLogger):
    """Access log without tokens or query strings."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.remote,
            request.method,
            mask_path(request.path),
            response.status,
            time * 1000,
        )


# ---------------------------------------------------------------------------- guest routes
async def healthz(request: web.Request) -> web.Response:
    """Alive, and whose: `booth snap` checks that the server on its port serves its own booth
    (the booth id; the data dir only for a client on this machine)."""
    cfg = request.app[CFG]
    who: dict[str, Any] = {"booth_id": cfg.booth_id}
    if is_loopback(request.remote):
        who["data_dir"] = str(Path(cfg.data_dir).resolve())
    try:
        request.app[LEDGER].get("healthz-probe")
    except Exception as exc:  # a broken ledger: the unit should be restarted
        log.error("healthz: ledger not readable: %s", exc)
        return web.json_response(
            {"ok": False, "ledger": "unreadable", **who},
            status=503,
            headers={"Cache-Control": "no-store"},
        )
    return web.json_response({"ok": True, **who}, headers={"Cache-Control": "no-store"})


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for it on every page; an empty answer keeps a 404 out of their console."""
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


async def photo_page(request: web.Request) -> web.Response:
    lookup = request.app[LOOKUP]
    photo = lookup.find(request.match_info["token"])
    if photo is None:
        raise web.HTTPNotFound()
    cfg = request.app[CFG]
    nonce = secrets.token_urlsafe(16)
    csp = (
        "default-src 'none'; img-src 'self' blob:; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    return html_page(
        pages.photo_page(
            request.app[TEXTS],
            cfg.kiosk.title,
            photo.token,
            photo.filename,
            cfg.retention_days,
            nonce,
        ),
        headers={"Content-Security-Policy": csp, "Cache-Control": "private, no-cache"},
    )


def _code_form(
    request: web.Request,
    message: str = "",
    typed: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    html = pages.code_page(request.app[TEXTS], request.app[CFG].kiosk.title, message, typed)
    h = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }
    h.update(headers or {})
    return html_page(html, status=status, headers=h)


async def code_entry(request: web.Request) -> web.StreamResponse:
    """`/` (a form; `/?code=…` submits it) and `/{code}`: a typed short code opens the photo."""
    typed = request.match_info.get("code") or request.query.get("code", "")
    if not typed:
        return _code_form(request)
    texts = request.app[TEXTS]
    throttle = request.app[CODE_THROTTLE]
    wait = throttle.wait_s(request.remote or "?")
    if wait > 0:  # this client, or every client together, used up its wrong guesses
        return _code_form(
            request,
            texts("page_code_slow"),
            typed[:9],
            status=429,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    row = request.app[LEDGER].by_code(typed[:16])
    if row is None or request.app[LOOKUP].find(row.token or "") is None:
        throttle.failed(request.remote or "?")
        log.info("share: a wrong short code from %s", request.remote)
        if PORTAL in request.app and request.match_info.get("code"):
            # on the booth Wi-Fi a short path of any other site lands here: the portal's page
            return await request.app[PORTAL](request)
        return _code_form(request, texts("page_code_wrong"), typed[:9], status=404)
    raise web.HTTPFound(f"/p/{row.token}", headers={"Cache-Control": "no-store"})


def _disposition(kind: str, filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def photo_file(request: web.Request) -> web.StreamResponse:
    photo = request.app[LOOKUP].find(request.match_info["token"])
    if photo is None:
        raise web.HTTPNotFound()
    download = request.query.get("dl") == "1"
    ctype = "image/png" if photo.filename.endswith(".png") else "image/jpeg"
    return web.FileResponse(
        photo.path,
        chunk_size=CHUNK,
        headers={
            "Content-Type": ctype,
            "Cache-Control": PHOTO_CACHE,
            "Content-Disposition": _disposition(
                "attachment" if download else "inline", photo.filename
            ),
        },
    )


# ---------------------------------------------------------------------------- retention task
async def _retention_loop(app: web.Application, every_s: float, first_delay_s: float) -> None:
    cfg, ledger = app[CFG], app[LEDGER]
    mqtt = app[MQTT]
    loop = asyncio.get_running_loop()
    await asyncio.sleep(first_delay_s)
    while True:
        try:
            report = await loop.run_in_executor(
                None, functools.partial(run_retention, cfg, ledger, mqtt, clock=app[LOOKUP].clock)
            )
            app[THUMBS].forget(report.job_ids)
        except Exception:
            log.exception("share: retention run failed; trying again later")
        await asyncio.sleep(every_s)


# ---------------------------------------------------------------------------- the app
def make_app(
    cfg: Config,
    *,
    ledger: Ledger | None = None,
    mqtt: MqttConnection | None = None,
    retention_every_s: float | None = None,
    retention_first_delay_s: float = 5.0,
    clock: Clock | None = None,
) -> web.Application:
    """The share app. Opens the ledger in the data dir unless one is given (closed on cleanup).

    With `retention_every_s` the app runs retention periodically while it serves.
    """
    app = web.Application(middlewares=[error_pages], client_max_size=64 * 1024)
    own_ledger = ledger is None
    led = ledger if ledger is not None else open_ledger(cfg, broker=mqtt is not None)
    app[CFG] = cfg
    app[LEDGER] = led
    app[LOOKUP] = PhotoLookup(
        led, cfg.data_dir, cfg.retention_days, clock or SystemClock(cfg.trust_clock)
    )
    app[THUMBS] = ThumbCache()  # the operator app's (share/admin.py); retention prunes it
    app[MQTT] = mqtt
    app[TEXTS] = cfg.guest_texts()
    app[CODE_THROTTLE] = LoginThrottle(CODE_MAX_FAILURES, CODE_MAX_FAILURES_ALL, CODE_WINDOW_S)
    app.on_response_prepare.append(security_headers)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/favicon.ico", favicon)
    for path in PHOTO_PATHS:
        app.router.add_get(path, photo_page)
        app.router.add_get(path + "/photo.jpg", photo_file)
    app.router.add_get(CODE_ROUTE, code_entry)  # after the fixed routes such as /healthz
    if cfg.share.portal:  # the booth's own Wi-Fi: connectivity checks + catch-all, added last
        app[PORTAL] = add_portal_routes(app, app[TEXTS], cfg.kiosk.title)  # `/` is its page
    else:
        app.router.add_get("/", code_entry)

    if retention_every_s:

        async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(
                _retention_loop(app, retention_every_s, retention_first_delay_s)
            )
            yield
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

        app.cleanup_ctx.append(retention_ctx)

    if own_ledger:

        async def close_ledger(app: web.Application) -> None:
            led.close()

        app.on_cleanup.append(close_ledger)
    return app
