"""The operator's app: login, today's gallery, thumbnails and QR codes — on its own listener.

Why a separate app: the guests' listener (`share/server.py`) faces the booth Wi-Fi, where anyone
can try passwords. The operator listener binds `share.admin_host:share.admin_port` (127.0.0.1 by
default: reach it on the booth itself or through `ssh -L`; or set the booth's ethernet address).
It does not exist at all without `BOOTH_ADMIN_PASSWORD`. The password is sent once to
`POST /admin/login` (throttled per address and in total, see `share/auth.py`); after that the
browser holds a session cookie.

For the pages built on this later (dashboard, metrics): `require_session(request)` is the check;
every route under `/admin` gets the cookie (its path).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from booth.protocol import JOB_ID_RE
from booth.qr import qr_svg
from jobstore.ledger import resolve_in_store
from jobstore.links import public_base_url, qr_link, share_url
from share import pages
from share.auth import SESSION_COOKIE, SESSION_TTL_S, LoginThrottle, Sessions, password_matches
from share.lookup import day_start, servable
from share.server import (CFG, LEDGER, LOOKUP, TEXTS, THUMBS, error_pages, html_page,
                          security_headers)

log = logging.getLogger("share.admin")

SESSIONS = web.AppKey("sessions", Sessions)
THROTTLE = web.AppKey("throttle", LoginThrottle)

ADMIN_CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
             "form-action 'self'; frame-ancestors 'none'")


def _page(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return html_page(text, status, {"Content-Security-Policy": ADMIN_CSP, **(headers or {})})


def _password(request: web.Request) -> str:
    """The operator password; without one the operator pages do not exist (404)."""
    password = request.app[CFG].share.admin_password
    if not password:
        raise web.HTTPNotFound()
    return password


def require_session(request: web.Request) -> None:
    """Raise 401 unless the request carries a live operator session."""
    _password(request)
    if not request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE)):
        raise web.HTTPUnauthorized()


def _same_origin(request: web.Request) -> None:
    """A form posted from another site is refused (the cookie is SameSite=Strict as well)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden()


# ---------------------------------------------------------------------------- login
async def login_form(request: web.Request) -> web.Response:
    _password(request)
    if request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE)):
        return _see_other("/admin")
    return _page(pages.login_page(request.app[CFG].kiosk.title))


async def login(request: web.Request) -> web.Response:
    password = _password(request)
    _same_origin(request)
    who = request.remote or "?"
    throttle = request.app[THROTTLE]
    title = request.app[CFG].kiosk.title
    wait = throttle.wait_s(who)
    if wait > 0:
        return _page(pages.login_page(title, "Too many wrong passwords. Wait a few minutes, then "
                                      "try again."), 429,
                     {"Retry-After": str(max(1, int(wait + 0.999)))})
    form = await request.post()
    given = form.get("password")
    if isinstance(given, str) and password_matches(given, password):
        throttle.succeeded(who)
        resp = _see_other("/admin")
        resp.set_cookie(SESSION_COOKIE, request.app[SESSIONS].create(), path="/admin",
                        max_age=int(SESSION_TTL_S), httponly=True, samesite="Strict")
        log.info("share: operator logged in from %s", who)
        return resp
    throttle.failed(who)
    log.warning("share: wrong operator password from %s", who)
    return _page(pages.login_page(title, "That password is not right."), 401)


async def logout(request: web.Request) -> web.Response:
    _password(request)
    _same_origin(request)
    request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))
    resp = _see_other("/admin/login")
    resp.del_cookie(SESSION_COOKIE, path="/admin")
    return resp


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


# ---------------------------------------------------------------------------- the gallery
async def gallery(request: web.Request) -> web.Response:
    _password(request)
    if not request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE)):
        return _see_other("/admin/login")
    cfg = request.app[CFG]
    now = time.time()
    base = public_base_url(cfg)
    rows = []
    for r in request.app[LEDGER].since(day_start(now)):
        ok = servable(r, cfg.retention_days, request.app[LOOKUP].clock)
        rows.append(pages.AdminRow(
            job_id=r.job_id, created_at=r.created_at, status=r.status.value, style=r.style,
            effect=r.effect, error=r.error.message if r.error else None,
            share_url=share_url(cfg, r.token, base) if ok else None))
    label = time.strftime("%A %d %B %Y", time.localtime(now))
    return _page(pages.admin_page(cfg.kiosk.title, rows, label))


def _admin_job(request: web.Request) -> Any:
    require_session(request)
    job_id = request.match_info["job"]
    if not JOB_ID_RE.match(job_id):
        raise web.HTTPNotFound()
    row = request.app[LEDGER].get(job_id)
    if not servable(row, request.app[CFG].retention_days, request.app[LOOKUP].clock):
        raise web.HTTPNotFound()
    return row


async def thumb(request: web.Request) -> web.Response:
    row = _admin_job(request)
    path = resolve_in_store(request.app[CFG].data_dir, row.result_path)
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, request.app[THUMBS].get, row.job_id, path)
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


async def qr(request: web.Request) -> web.Response:
    row = _admin_job(request)
    url = qr_link(share_url(request.app[CFG], row.token))  # as compact as on the booth screen
    return web.Response(text=qr_svg(url), content_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=3600"})


async def to_gallery(request: web.Request) -> web.Response:
    return _see_other("/admin")


def make_admin_app(guest_app: web.Application, *,
                   throttle: LoginThrottle | None = None) -> web.Application:
    """The operator app over the guest app's config, ledger and thumbnail cache."""
    app = web.Application(middlewares=[error_pages], client_max_size=16 * 1024)
    app[CFG] = guest_app[CFG]
    app[LEDGER] = guest_app[LEDGER]
    app[THUMBS] = guest_app[THUMBS]
    app[LOOKUP] = guest_app[LOOKUP]
    app[TEXTS] = guest_app[TEXTS]  # the error pages speak the booth's language
    app[SESSIONS] = Sessions()
    app[THROTTLE] = throttle or LoginThrottle()
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/", to_gallery)
    app.router.add_get("/admin", gallery)
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
    app.router.add_get("/admin/thumb/{job}.jpg", thumb)
    app.router.add_get("/admin/qr/{job}.svg", qr)
    return app
