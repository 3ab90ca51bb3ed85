"""The share server: aiohttp app that serves finished results to guests' phones by token.

Routes: `/p/{token}` (the guest's page; `/P/…` too, as the QR code carries it in upper case),
`/p/{token}/photo.jpg` (the file: ETag, conditional requests, Range and HEAD come from aiohttp's
FileResponse, sent with sendfile), `/p/{token}/clip.mp4` (its reveal clip, once made), `/` and
`/{code}` (a typed short code; wrong codes are rate-limited per client and overall) and
`/healthz`. The operator gallery is not here: it is
another app on its own listener (`share/admin.py`). There is no static route and no directory
listing; every error a client sees is one of our own pages, never a trace.

Guest pages speak the phone's language when it is one of ours (`Accept-Language`), else the
booth's (`kiosk.language`): `GuestTexts`. Text answers (pages, JSON, SVG) are gzipped for a
client that accepts it; photos and thumbnails are sent as they are (JPEG does not shrink).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import ContentCoding

from booth.clock import Clock, SystemClock
from booth.config import Config
from booth.mqtt import MqttConnection
from booth.texts import LANGUAGES, Texts
from jobstore.clips import Clips
from jobstore.ledger import Ledger, resolve_in_store
from jobstore.links import CODE_PATH, PHOTO_PATHS
from jobstore.recovery import open_ledger
from jobstore.retention import run_retention
from jobstore.sessions import Sessions
from share import pages
from share.auth import LoginThrottle
from share.lookup import PhotoLookup, photo_size
from share.portal import Handler, add_portal_routes
from share.thumbs import ThumbCache

log = logging.getLogger("share.server")

CFG = web.AppKey("cfg", Config)
LEDGER = web.AppKey("ledger", Ledger)
LOOKUP = web.AppKey("lookup", PhotoLookup)
CLIPS = web.AppKey("clips", Clips)  # the reveal clips (share/clipmaker.py makes them)
STRIPS = web.AppKey("strips", Sessions)  # strip sessions: a sheet's page lists its frames
THUMBS = web.AppKey("thumbs", ThumbCache)
MQTT: web.AppKey[MqttConnection | None] = web.AppKey("mqtt")  # None: no broker (tests, tools)
TEXTS = web.AppKey("texts", Texts)  # the booth's language (the operator app's error pages too)
CODE_THROTTLE = web.AppKey("code_throttle", LoginThrottle)
PORTAL: web.AppKey[Handler] = web.AppKey("portal")  # the captive portal's catch-all
GUEST_TEXTS: web.AppKey[GuestTexts] = web.AppKey("guest_texts")  # every language, for phones
# Short codes are 30 bits: wrong guesses are limited per client address and for everyone
# together (a booth has at most a few thousand live codes, so a guess hits once in ~10**6).
CODE_WINDOW_S = 60.0
CODE_MAX_FAILURES = 10  # per client address per window
CODE_MAX_FAILURES_ALL = 100  # all clients together per window
CODE_ROUTE = CODE_PATH.replace("{code}", "{code:[0-9A-Za-z-]{6,7}}")

PHOTO_CACHE = "private, max-age=86400"  # the token is the secret: never cache in shared proxies
CHUNK = 256 * 1024


# ---------------------------------------------------------------------------- negotiation
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")
_TOKEN = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 token chars: a range, `*`, a coding
MAX_PREFERENCES = 32  # a header longer than any browser sends is read that far


@dataclass(frozen=True)
class Preference:
    """One entry of an Accept-Language or Accept-Encoding header."""

    value: str  # lower case: a language range (`de-ch`, `*`) or a content coding (`gzip`)
    q: float  # 0 (not acceptable) to 1


def preferences(header: str | None) -> list[Preference]:
    """The entries of an Accept-Language or Accept-Encoding header, most wanted first (RFC 9110
    12.4.2: `q` from 0 to 1 with at most three decimals, 1 when absent; equal weights keep the
    header's order). A malformed entry is skipped: a header never makes a request fail."""
    found: list[Preference] = []
    for entry in (header or "").split(",")[:MAX_PREFERENCES]:
        value, *params = (part.strip() for part in entry.split(";"))
        value = value.lower()
        if not value or not _TOKEN.fullmatch(value):
            continue
        q = 1.0
        for param in params:
            name, _, given = param.partition("=")
            if name.strip().lower() == "q":
                if not _QVALUE.fullmatch(given.strip()):
                    break
                q = float(given)
        else:
            found.append(Preference(value, q))
    return sorted(found, key=lambda p: -p.q)


def pick_language(header: str | None, known: tuple[str, ...], default: str) -> str:
    """The first language of `known` the header asks for (by its primary subtag: `de-CH` is
    `de`), else `default`; `*` and anything we do not have also mean `default`."""
    for pref in preferences(header):
        if pref.q <= 0:
            continue
        if pref.value == "*":
            return default
        primary = re.split("[-_]", pref.value, maxsplit=1)[0]
        if primary in known:
            return primary
    return default


def accepts_coding(header: str | None, coding: str) -> bool:
    """Whether Accept-Encoding allows `coding` (named, or through `*`, with a weight above 0)."""
    weights: dict[str, float] = {}
    for pref in preferences(header):
        weights.setdefault(pref.value, pref.q)
    return weights.get(coding, weights.get("*", 0.0)) > 0


@dataclass(frozen=True)
class GuestTexts:
    """The guest texts in every language we have, for a phone's `Accept-Language`.

    The `[texts]` overrides are words the operator wrote in the booth's language, so they apply
    only to a page in that language: a phone that reads another of ours gets that language's
    catalog as it is (a page in one language, never a mix of two). A phone in a language we do
    not have gets the booth's language, overrides included."""

    booth: Texts
    by_language: Mapping[str, Texts]

    @classmethod
    def from_config(cls, cfg: Config) -> GuestTexts:
        booth = cfg.guest_texts()
        return cls(
            booth,
            {lang: booth if lang == booth.language else Texts(lang) for lang in LANGUAGES},
        )

    def for_header(self, accept_language: str | None) -> Texts:
        return self.by_language[pick_language(accept_language, LANGUAGES, self.booth.language)]


def guest_texts(request: web.Request) -> Texts:
    """The texts for this request: the phone's language on the guest listener, the booth's on
    the operator listener (its error pages; it negotiates nothing)."""
    choice = request.app.get(GUEST_TEXTS)
    if choice is None:
        return request.app[TEXTS]
    return choice.for_header(request.headers.get(hdrs.ACCEPT_LANGUAGE))


def _vary(response: web.StreamResponse, header: str) -> None:
    have = [v.strip().lower() for v in response.headers.get(hdrs.VARY, "").split(",") if v]
    if header.lower() not in have:
        response.headers[hdrs.VARY] = ", ".join([*filter(None, have), header.lower()])


# Worth compressing: our pages, the dashboard's JSON, /metrics and QR SVGs. Not photos or
# thumbnails (JPEG and PNG are compressed already) nor files (sent with sendfile).
COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")
MIN_COMPRESS = 256  # bytes; below that gzip's header eats the gain (connectivity-check answers)


def compress(request: web.Request, response: web.StreamResponse) -> None:
    """gzip a text answer for a client whose Accept-Encoding allows it."""
    if not isinstance(response, web.Response) or not response.content_type.startswith(COMPRESSIBLE):
        return
    body = response.body
    if not isinstance(body, bytes) or len(body) < MIN_COMPRESS:
        return
    if hdrs.CONTENT_ENCODING in response.headers:
        return
    _vary(response, "Accept-Encoding")  # a cache must keep both forms apart
    if accepts_coding(request.headers.get(hdrs.ACCEPT_ENCODING), "gzip"):
        response.enable_compression(ContentCoding.gzip)


# ---------------------------------------------------------------------------- responses
def html_page(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=headers
    )
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def guest_page(
    request: web.Request,
    render: Callable[[Texts], str],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A page rendered in the request's language (`guest_texts`), marked as depending on it."""
    resp = html_page(render(guest_texts(request)), status, headers)
    if GUEST_TEXTS in request.app:
        _vary(resp, "Accept-Language")
    return resp


def _not_found(request: web.Request) -> web.Response:
    title = request.app[CFG].kiosk.title
    return guest_page(request, lambda t: pages.not_found_page(t, title), status=404)


def _error(
    request: web.Request, status: int, reason: str, headers: dict[str, str] | None = None
) -> web.Response:
    title = request.app[CFG].kiosk.title
    return guest_page(
        request, lambda t: pages.error_page(t, title, status, reason), status, headers
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
    """Every 4xx/5xx becomes a friendly page; unexpected exceptions are logged, never shown.
    Both listeners' answers pass here, so text is compressed here too (`compress`)."""
    response: web.StreamResponse
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            response = _not_found(request)
        else:
            keep = {k: v for k, v in exc.headers.items() if k in _KEEP_HEADERS}
            response = _error(request, exc.status, _REASONS.get(exc.status, exc.reason), keep)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("share: internal error on %s %s", request.method, mask_path(request.path))
        response = _error(request, 500, guest_texts(request)("page_error"))
    compress(request, response)
    return response


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
    loop = asyncio.get_running_loop()
    size = await loop.run_in_executor(None, photo_size, photo.path)
    frames = await loop.run_in_executor(None, _frames_of, request, photo.job_id)
    clip = _clip_of(request, photo.job_id)
    clip_size = pages.PhotoSize(clip[1], clip[2]) if clip is not None else None
    nonce = secrets.token_urlsafe(16)
    csp = (
        "default-src 'none'; img-src 'self' blob:; media-src 'self'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    return guest_page(
        request,
        lambda t: pages.photo_page(
            t,
            cfg.kiosk.title,
            photo.token,
            photo.filename,
            cfg.retention_days,
            nonce,
            size,
            clip_size,
            frames,
        ),
        headers={"Content-Security-Policy": csp, "Cache-Control": "private, no-cache"},
    )


def _frames_of(request: web.Request, job_id: str) -> list[pages.FrameLink]:
    """A strip session's sheet: its frames that can be downloaded, in shot order, each by its
    own token (jobstore/sessions.py); a photo of its own has none."""
    lookup = request.app[LOOKUP]
    out = []
    for n, row in enumerate(request.app[STRIPS].frames(job_id), 1):  # none for a photo
        frame = lookup.find(row.token) if row.token else None
        if frame is not None:
            out.append(pages.FrameLink.lan(n, frame.token, frame.filename, photo_size(frame.path)))
    return out


def _code_form(
    request: web.Request,
    message_key: str = "",  # a text of booth/texts.py, said above the form
    typed: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    title = request.app[CFG].kiosk.title
    h = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }
    h.update(headers or {})

    def render(t: Texts) -> str:
        return pages.code_page(t, title, t(message_key) if message_key else "", typed)

    return guest_page(request, render, status, h)


async def code_entry(request: web.Request) -> web.StreamResponse:
    """`/` (a form; `/?code=…` submits it) and `/{code}`: a typed short code opens the photo."""
    typed = request.match_info.get("code") or request.query.get("code", "")
    if not typed:
        return _code_form(request)
    throttle = request.app[CODE_THROTTLE]
    wait = throttle.wait_s(request.remote or "?")
    if wait > 0:  # this client, or every client together, used up its wrong guesses
        return _code_form(
            request,
            "page_code_slow",
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
        return _code_form(request, "page_code_wrong", typed[:9], status=404)
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


def _clip_of(request: web.Request, job_id: str) -> tuple[Path, int, int] | None:
    """The job's reveal clip (its file, width, height) when it is made and on disk, else None:
    a guest without a clip simply gets the photo."""
    clip = request.app[CLIPS].ready(job_id)
    if clip is None or clip.clip_path is None or not clip.width or not clip.height:
        return None
    path = resolve_in_store(request.app[CFG].data_dir, clip.clip_path)
    if path is None or not path.is_file():
        return None
    return path, clip.width, clip.height


async def clip_file(request: web.Request) -> web.StreamResponse:
    """The reveal clip (`?dl=1`: as an attachment). Range requests work (Safari needs them to
    play a video at all)."""
    photo = request.app[LOOKUP].find(request.match_info["token"])
    clip = _clip_of(request, photo.job_id) if photo is not None else None
    if photo is None or clip is None:
        raise web.HTTPNotFound()
    kind = "attachment" if request.query.get("dl") == "1" else "inline"
    return web.FileResponse(
        clip[0],
        chunk_size=CHUNK,
        headers={
            "Content-Type": "video/mp4",
            "Cache-Control": PHOTO_CACHE,
            "Content-Disposition": _disposition(kind, pages.clip_filename(photo.filename)),
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
    make_clips: bool = False,
) -> web.Application:
    """The share app. Opens the ledger in the data dir unless one is given (closed on cleanup).

    With `retention_every_s` the app runs retention periodically while it serves; with
    `make_clips` it makes a reveal clip for every new result (share/clipmaker.py).
    """
    app = web.Application(middlewares=[error_pages], client_max_size=64 * 1024)
    own_ledger = ledger is None
    led = ledger if ledger is not None else open_ledger(cfg, broker=mqtt is not None)
    app[CFG] = cfg
    app[LEDGER] = led
    app[LOOKUP] = PhotoLookup(
        led, cfg.data_dir, cfg.retention_days, clock or SystemClock(cfg.trust_clock)
    )
    app[CLIPS] = Clips(led.path)
    app[STRIPS] = Sessions(led.path)
    app[THUMBS] = ThumbCache()  # the operator app's (share/admin.py); retention prunes it
    app[MQTT] = mqtt
    app[GUEST_TEXTS] = GuestTexts.from_config(cfg)
    app[TEXTS] = app[GUEST_TEXTS].booth
    app[CODE_THROTTLE] = LoginThrottle(CODE_MAX_FAILURES, CODE_MAX_FAILURES_ALL, CODE_WINDOW_S)
    app.on_response_prepare.append(security_headers)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/favicon.ico", favicon)
    for path in PHOTO_PATHS:
        app.router.add_get(path, photo_page)
        app.router.add_get(path + "/photo.jpg", photo_file)
        app.router.add_get(path + "/clip.mp4", clip_file)
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

    if make_clips:

        async def clips_ctx(app: web.Application) -> AsyncIterator[None]:
            from share.clipmaker import ClipMaker

            maker = ClipMaker(cfg).start()
            yield
            await asyncio.get_running_loop().run_in_executor(None, maker.stop)

        app.cleanup_ctx.append(clips_ctx)

    async def close_clips(app: web.Application) -> None:
        app[CLIPS].close()
        app[STRIPS].close()

    app.on_cleanup.append(close_clips)

    if own_ledger:

        async def close_ledger(app: web.Application) -> None:
            led.close()

        app.on_cleanup.append(close_ledger)
    return app
