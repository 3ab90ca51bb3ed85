"""The operator's app: login, the event dashboard, its photos and tools, `/metrics` — on its own
listener.

Why a separate app: the guests' listener (`share/server.py`) faces the booth Wi-Fi, where anyone
can try passwords. The operator listener binds `share.admin_host:share.admin_port` (127.0.0.1 by
default: reach it on the booth itself or through `ssh -L`; or set the booth's ethernet address).
It does not exist at all without `BOOTH_ADMIN_PASSWORD`. The password is sent once to
`POST /admin/login` (throttled per address and in total, see `share/auth.py`); after that the
browser holds a session cookie.

`require_session(request)` is the check of every route under `/admin` (the cookie's path).
The dashboard (`/admin`, a page that fetches `/admin/api/state`: share/dashboard.py) shows the
health of every part, the event's numbers and its photos with their QR, original, delete and a
zip of all of them. `/metrics` (share/metrics.py) takes an operator session or
`Authorization: Bearer <operator.metrics_token>` (wrong tokens count as wrong passwords).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from booth.healthboard import HealthBoard
from booth.protocol import JOB_ID_RE
from booth.qr import qr_svg
from jobstore.ledger import ledger_path, resolve_in_store
from jobstore.links import qr_link, share_url
from jobstore.prints import PrintQueue
from jobstore.uploads import Uploads
from share import dashboard, metrics, operator_pages, printing
from share.auth import SESSION_COOKIE, SESSION_TTL_S, LoginThrottle, Sessions, password_matches
from share.health import board_for
from share.lookup import is_expired, servable
from share.server import (
    CFG,
    LEDGER,
    LOOKUP,
    MQTT,
    STRIPS,
    TEXTS,
    THUMBS,
    error_pages,
    favicon,
    html_page,
    security_headers,
)
from share.zipstream import stream_zip

if TYPE_CHECKING:
    from share.uploader import Uploader

log = logging.getLogger("share.admin")

SESSIONS = web.AppKey("sessions", Sessions)
THROTTLE = web.AppKey("throttle", LoginThrottle)
BOARD = web.AppKey("board", HealthBoard)
UPLOADS: web.AppKey[Uploads | None] = web.AppKey("uploads")  # None: cloud sharing off
UPLOADER: web.AppKey[Uploader | None] = web.AppKey("uploader")  # None: not in this process
PRINTS: web.AppKey[PrintQueue | None] = web.AppKey("prints")  # None: printing is off

ADMIN_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


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
    """A form posted from another site is refused (the cookie is SameSite=Strict as well); an
    Origin that is no web address at all (`http://[::1`) is a 400: no browser sends one."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        raise web.HTTPBadRequest(reason=BAD_ORIGIN) from None
    if netloc != request.host:
        raise web.HTTPForbidden()


# What a 400 says (the reason phrase, shown on the error page too)
BAD_ORIGIN = "The request's Origin is not a web address"
BAD_FORM = "The login form could not be read"


async def _login_form(request: web.Request, who: str) -> Any:
    """The posted login form. A body that cannot be read (multipart without its boundary, a
    boundary over 70 characters, a charset nobody knows …) is the client's fault: a 400."""
    try:
        return await request.post()
    except web.HTTPException:  # too large (413): aiohttp's own answer
        raise
    except Exception as exc:
        log.warning("share: unreadable login form from %s: %s", who, str(exc)[:120])
        raise web.HTTPBadRequest(reason=BAD_FORM) from None


# ---------------------------------------------------------------------------- login
async def login_form(request: web.Request) -> web.Response:
    _password(request)
    if request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE)):
        return _see_other("/admin")
    return _page(operator_pages.login_page(request.app[CFG].kiosk.title))


async def login(request: web.Request) -> web.Response:
    """Check the password and start a session. Every try that gets as far as the throttle and
    does not log in counts as a wrong password, a malformed one too (a 400: only a hand-made
    request sends one); a form from another site (403) does not, since a page elsewhere could
    make the operator's own browser send it."""
    password = _password(request)
    who = request.remote or "?"
    throttle = request.app[THROTTLE]
    title = request.app[CFG].kiosk.title
    wait = throttle.wait_s(who)
    if wait > 0:
        return _page(
            operator_pages.login_page(
                title, "Too many wrong passwords. Wait a few minutes, then try again."
            ),
            429,
            {"Retry-After": str(max(1, int(wait + 0.999)))},
        )
    try:
        _same_origin(request)
        form = await _login_form(request, who)
    except (web.HTTPBadRequest, web.HTTPRequestEntityTooLarge):
        throttle.failed(who)
        raise
    given = form.get("password")
    if isinstance(given, str) and password_matches(given, password):
        throttle.succeeded(who)
        resp = _see_other("/admin")
        resp.set_cookie(
            SESSION_COOKIE,
            request.app[SESSIONS].create(),
            path="/admin",
            max_age=int(SESSION_TTL_S),
            httponly=True,
            samesite="Strict",
        )
        log.info("share: operator logged in from %s", who)
        return resp
    throttle.failed(who)
    log.warning("share: wrong operator password from %s", who)
    return _page(operator_pages.login_page(title, "That password is not right."), 401)


async def logout(request: web.Request) -> web.Response:
    _password(request)
    _same_origin(request)
    request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))
    resp = _see_other("/admin/login")
    resp.del_cookie(SESSION_COOKIE, path="/admin")
    return resp


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


# ---------------------------------------------------------------------------- the dashboard
def _sources(request: web.Request) -> dashboard.Sources:
    app = request.app
    return dashboard.Sources(
        app[CFG], app[LEDGER], app[LOOKUP], app[BOARD], app[UPLOADS], app[PRINTS], app[STRIPS]
    )


async def dashboard_page(request: web.Request) -> web.Response:
    _password(request)
    if not request.app[SESSIONS].valid(request.cookies.get(SESSION_COOKIE)):
        return _see_other("/admin/login")
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src "
        f"'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return html_page(
        operator_pages.dashboard_page(request.app[CFG].kiosk.title, nonce),
        headers={"Content-Security-Policy": csp},
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def api_state(request: web.Request) -> web.Response:
    require_session(request)
    page = _int(request.query.get("page"), 1)
    per = _int(request.query.get("per"), dashboard.PER_PAGE)
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, dashboard.state, _sources(request), page, per)
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def api_delete(request: web.Request) -> web.Response:
    require_session(request)
    _same_origin(request)
    job_id = request.match_info["job"]
    if not JOB_ID_RE.match(job_id):
        raise web.HTTPNotFound()
    found = await dashboard.delete_job(
        _sources(request), job_id, request.app[MQTT], request.app[UPLOADER]
    )
    request.app[THUMBS].forget([job_id, f"{job_id}.original"])
    if not found:
        raise web.HTTPNotFound()
    return web.json_response({"deleted": job_id}, headers={"Cache-Control": "no-store"})


async def api_print(request: web.Request) -> web.Response:
    """An operator's print command (share/printing.py): resume, cancel, add-paper, or a
    photo's reprint; answers what the printer process made of it."""
    require_session(request)
    _same_origin(request)
    job_id = request.match_info.get("job")
    if job_id is not None and not JOB_ID_RE.match(job_id):
        raise web.HTTPNotFound()
    action = "reprint" if job_id else printing.ROUTE_ACTIONS.get(request.match_info["action"], "")
    try:
        body = printing.parse_body(await request.read())
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=f"not a JSON object: {exc}"[:120]) from None
    status, answer = await printing.send_command(
        request.app[CFG], request.app[MQTT], request.app[BOARD], action, job_id, body
    )
    return web.json_response(answer, status=status, headers={"Cache-Control": "no-store"})


async def event_zip(request: web.Request) -> web.StreamResponse:
    require_session(request)
    src = _sources(request)
    loop = asyncio.get_running_loop()
    stats = await loop.run_in_executor(None, dashboard.event_stats, src.cfg, src.ledger)
    return await stream_zip(
        request, dashboard.zip_name(src.cfg, stats), lambda: dashboard.zip_members(src, stats.start)
    )


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text format: a session, or the bearer token (operator.metrics_token)."""
    cfg = request.app[CFG]
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and cfg.operator.metrics_token:
        who = request.remote or "?"
        throttle = request.app[THROTTLE]
        wait = throttle.wait_s(who)
        if wait > 0:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(max(1, int(wait + 1)))})
        if not password_matches(auth[7:].strip(), cfg.operator.metrics_token):
            throttle.failed(who)
            log.warning("share: wrong metrics token from %s", who)
            raise web.HTTPUnauthorized()
    else:
        require_session(request)
    loop = asyncio.get_running_loop()
    text = await loop.run_in_executor(None, metrics.render, _sources(request))
    return web.Response(
        text=text, content_type="text/plain", charset="utf-8", headers={"Cache-Control": "no-store"}
    )


def _admin_job(request: web.Request, result: bool = True) -> Any:
    """The job of the URL, for a session: with a servable result (`result`), or any job still
    within retention (its original)."""
    require_session(request)
    job_id = request.match_info["job"]
    if not JOB_ID_RE.match(job_id):
        raise web.HTTPNotFound()
    row = request.app[LEDGER].get(job_id)
    cfg, clock = request.app[CFG], request.app[LOOKUP].clock
    if result and not servable(row, cfg.retention_days, clock):
        raise web.HTTPNotFound()
    elif row is None or is_expired(row, cfg.retention_days, clock):
        raise web.HTTPNotFound()
    return row


async def _thumb(request: web.Request, rel: str, key: str) -> web.Response:
    """A small JPEG of the stored file `rel`, made off the event loop and cached as `key`."""
    path = resolve_in_store(request.app[CFG].data_dir, rel)
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, request.app[THUMBS].get, key, path)
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


async def thumb(request: web.Request) -> web.Response:
    row = _admin_job(request)
    return await _thumb(request, row.result_path, row.job_id)


async def original(request: web.Request) -> web.StreamResponse:
    """The guest's shot as taken (full resolution): a failed job's photo is not lost."""
    row = _admin_job(request, result=False)
    path = resolve_in_store(request.app[CFG].data_dir, row.original_path)
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(row.created_at))
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "image/jpeg",
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": f'attachment; filename="original-{stamp}-{row.job_id[:8]}.jpg"',
        },
    )


async def original_thumb(request: web.Request) -> web.Response:
    row = _admin_job(request, result=False)
    return await _thumb(request, row.original_path, f"{row.job_id}.original")


async def qr(request: web.Request) -> web.Response:
    row = _admin_job(request)
    url = share_url(request.app[CFG], row.token)
    uploads = request.app[UPLOADS]
    if uploads is not None:  # the link the booth screen shows: the cloud one once confirmed
        link = uploads.link(row.job_id)
        if link is not None and link.live(time.time()):
            url = link.url
    url = qr_link(url)  # as compact as on the booth screen
    return web.Response(
        text=qr_svg(url),
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=3600"},
    )


async def to_gallery(request: web.Request) -> web.Response:
    return _see_other("/admin")


def make_admin_app(
    guest_app: web.Application,
    *,
    throttle: LoginThrottle | None = None,
    board: HealthBoard | None = None,
    uploader: Uploader | None = None,
) -> web.Application:
    """The operator app over the guest app's config, ledger, thumbnail cache and broker
    connection; `board` gathers the parts' health (share/cli.py feeds it from MQTT), `uploader`
    is this process's cloud uploader (its queue gives the uploads waiting)."""
    cfg = guest_app[CFG]
    app = web.Application(middlewares=[error_pages], client_max_size=16 * 1024)
    app[CFG] = cfg
    app[LEDGER] = guest_app[LEDGER]
    app[THUMBS] = guest_app[THUMBS]
    app[LOOKUP] = guest_app[LOOKUP]
    app[STRIPS] = guest_app[STRIPS]
    app[MQTT] = guest_app[MQTT]
    app[TEXTS] = guest_app[TEXTS]  # the error pages speak the booth's language
    app[SESSIONS] = Sessions()
    app[THROTTLE] = throttle or LoginThrottle()
    app[BOARD] = board if board is not None else board_for(cfg)
    app[UPLOADER] = uploader
    own_uploads = None
    if uploader is not None:
        app[UPLOADS] = uploader.queue
    elif cfg.cloud.enabled:  # uploads run elsewhere (--no-cloud): read the queue ourselves
        app[UPLOADS] = own_uploads = Uploads(ledger_path(cfg.data_dir))
    else:
        app[UPLOADS] = None
    if own_uploads is not None:

        async def close_uploads(app: web.Application) -> None:
            own_uploads.close()

        app.on_cleanup.append(close_uploads)
    prints = app[PRINTS] = printing.open_queue(cfg)  # [print]: the prints table, to read
    if prints is not None:

        async def close_prints(app: web.Application) -> None:
            prints.close()

        app.on_cleanup.append(close_prints)
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/", to_gallery)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/admin", dashboard_page)
    app.router.add_get("/admin/api/state", api_state)
    app.router.add_post("/admin/api/jobs/{job}/delete", api_delete)
    app.router.add_post("/admin/api/jobs/{job}/reprint", api_print)
    app.router.add_post("/admin/api/print/{action}", api_print)
    app.router.add_get("/admin/event.zip", event_zip)
    app.router.add_get("/admin/original/{job}.jpg", original)
    app.router.add_get("/admin/original/{job}/thumb.jpg", original_thumb)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/admin/login", login_form)
    app.router.add_post("/admin/login", login)
    app.router.add_post("/admin/logout", logout)
    app.router.add_get("/admin/thumb/{job}.jpg", thumb)
    app.router.add_get("/admin/qr/{job}.svg", qr)
    return app
