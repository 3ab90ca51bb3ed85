"""`booth share`: the download server guests' phones reach over the booth's Wi-Fi.

Runs the guests' app on `share.host:share.port` and the operator's app on
`share.admin_host:share.admin_port` (only with an operator password), both behind a connection
guard (share/conncaps.py), with log lines rate-limited; a periodic retention task; the cloud
uploader when `[cloud]` is enabled; the systemd READY/watchdog pings. One share server per data
dir (a run lock). Its MQTT connection (unless --no-mqtt) clears retained messages of deleted
jobs and of jobs the ledger does not know, gathers every part's health for the dashboard
(booth/healthboard.py), and publishes its own and the uploader's (share/health.py), with
`{root}/{booth}/share/availability` as its will.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from booth import sdnotify
from booth.config import Config
from booth.healthboard import HealthBoard
from booth.logs import limit_log_rate
from booth.mqtt import MqttConnection, MqttUrlError
from booth.protocol import Topics
from booth.runlock import run_locked
from jobstore.links import public_base_url
from share.admin import make_admin_app
from share.conncaps import (
    ConnectionGuard,
    GuardedSite,
    accept_burst,
    connections_for_fd_limit,
    raise_fd_limit,
)
from share.health import Listeners, ShareHealth, board_for
from share.server import LEDGER, MaskedAccessLogger, make_app, quiet_bad_requests

if TYPE_CHECKING:
    from share.uploader import Uploader  # imported when [cloud] is on (it loads obstore)

log = logging.getLogger("share")

SUMMARY_EVERY_S = 60.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="listen address (default: share.host)")
    p.add_argument("--port", type=int, help="listen port (default: share.port)")
    p.add_argument(
        "--no-retention", action="store_true", help="do not delete old jobs from this process"
    )
    p.add_argument(
        "--no-mqtt",
        action="store_true",
        help="no broker connection (retention then only deletes files and rows, and "
        "the dashboard knows only this process's health)",
    )
    p.add_argument(
        "--no-cloud",
        action="store_true",
        help="do not upload to the bucket from this process even with cloud.enabled",
    )


def _runner(cfg: Config, app: web.Application) -> web.AppRunner:
    return web.AppRunner(
        app,
        access_log_class=MaskedAccessLogger,
        handle_signals=False,
        shutdown_timeout=5.0,
        keepalive_timeout=cfg.share.idle_timeout_s,
    )


async def _serve(
    cfg: Config, args: argparse.Namespace, mqtt: MqttConnection | None, board: HealthBoard
) -> int:
    host = args.host or cfg.share.host
    port = args.port if args.port is not None else cfg.share.port
    cfg.share.port = port  # the derived public URL uses the port actually served
    quiet_bad_requests()
    limit_log_rate()
    fd_limit = raise_fd_limit()
    total = connections_for_fd_limit(cfg.share.max_connections, fd_limit)
    if total < cfg.share.max_connections:
        log.warning(
            "share: at most %d connections (file-descriptor limit %d; raise LimitNOFILE for more)",
            total,
            fd_limit,
        )
    app = make_app(
        cfg,
        mqtt=mqtt,
        retention_every_s=None if args.no_retention else cfg.share.retention_every_s,
        make_clips=True,  # a reveal clip per new picture, at idle priority (share/clipmaker.py)
    )
    # [cloud]: the upload queue is drained from this process (share/uploader.py says why)
    uploader: Uploader | None = None
    if cfg.cloud.enabled and not args.no_cloud:
        from share.uploader import Uploader

        uploader = Uploader(cfg)
    runner = _runner(cfg, app)
    await runner.setup()
    guard = ConnectionGuard(
        per_address=cfg.share.max_connections_per_address,
        total=total,
        header_timeout_s=cfg.share.header_timeout_s,
    )
    site = GuardedSite(runner, host, port, guard, backlog=accept_burst(fd_limit))
    try:
        await site.start()
    except OSError as exc:
        log.error("share: cannot listen on %s:%s: %s", host, port, exc.strerror)
        if uploader is not None:
            uploader.stop()
        await runner.cleanup()
        return 1
    listeners = Listeners(guests=f"{host}:{port}", guard=guard)
    admin_runner = await _start_admin(cfg, app, listeners, board, uploader)
    base = public_base_url(cfg)
    log.info("share: serving on %s:%s; guests' links start with %s/p/", host, port, base)
    if "://127." in base or "://localhost" in base:
        log.warning(
            "share: the download links point at this machine's loopback address; set "
            "share.public_url or connect the booth to a network so phones can reach it"
        )
    if cfg.share.wifi_ssid:
        kind = "WPA" if cfg.share.wifi_password else "open"
        log.info("share: Wi-Fi join QR for %s network %r is available", kind, cfg.share.wifi_ssid)
    if cfg.share.portal:
        log.info(
            "share: captive portal on (booth Wi-Fi): phones' connectivity checks are "
            "answered, any other address shows 'scan the photo QR'"
        )

    if uploader is not None:
        uploader.start()
    health = ShareHealth(cfg, board, app[LEDGER], mqtt, listeners, uploader)
    health_task = asyncio.create_task(health.run())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sdnotify.ready(f"serving on {host}:{port}")
    seen = (0, 0)
    next_summary = loop.time() + SUMMARY_EVERY_S
    try:
        while not stop.is_set():
            sdnotify.watchdog()
            try:
                await asyncio.wait_for(stop.wait(), timeout=2.0)
            except TimeoutError:
                pass
            if loop.time() >= next_summary:  # one line a minute at most, however big a flood
                next_summary = loop.time() + SUMMARY_EVERY_S
                now = (guard.refused, guard.timed_out)
                if now != seen:
                    log.warning(
                        "share: in the last minute %d connections refused (caps: %d "
                        "per address, %d in all), %d closed without a request",
                        now[0] - seen[0],
                        guard.per_address,
                        guard.total,
                        now[1] - seen[1],
                    )
                    seen = now
    finally:
        health_task.cancel()
        sdnotify.stopping()
        log.info(
            "share: stopping (since start: %d connections refused, %d closed without a request)",
            guard.refused,
            guard.timed_out,
        )
        if admin_runner is not None:
            await admin_runner.cleanup()
        if uploader is not None:
            await loop.run_in_executor(None, uploader.stop)
        await runner.cleanup()
    return 0


async def _start_admin(
    cfg: Config,
    app: web.Application,
    listeners: Listeners,
    board: HealthBoard,
    uploader: Uploader | None = None,
) -> web.AppRunner | None:
    """The operator listener, when there is a password and an address for it. Failing to
    listen there is logged; the guests' downloads go on without it."""
    host, port = cfg.share.admin_host, cfg.share.admin_port
    if not cfg.share.admin_password or not host:
        why = (
            "BOOTH_ADMIN_PASSWORD is not set"
            if not cfg.share.admin_password
            else "share.admin_host is empty"
        )
        log.info("share: operator pages off (%s)", why)
        listeners.operator_off = why
        return None
    runner = _runner(cfg, make_admin_app(app, board=board, uploader=uploader))
    await runner.setup()
    guard = ConnectionGuard(
        per_address=cfg.share.max_connections_per_address,
        total=64,
        header_timeout_s=cfg.share.header_timeout_s,
        name="share admin",
    )
    try:
        await GuardedSite(runner, host, port, guard, backlog=64).start()
    except OSError as exc:
        log.error("share: operator pages off: cannot listen on %s:%s: %s", host, port, exc.strerror)
        listeners.operator_off = f"cannot listen on {host}:{port}: {exc.strerror}"
        await runner.cleanup()
        return None
    listeners.operator = f"{host}:{port}"
    log.info(
        "share: operator pages on http://%s:%s/admin%s",
        host,
        port,
        ""
        if host.startswith("127.") or host in ("localhost", "::1")
        else " (reachable from that network: keep it off the guests' Wi-Fi)",
    )
    return runner


def run(cfg: Config, args: argparse.Namespace) -> int:
    # One share server per data dir: a second one says who holds it.
    return run_locked(cfg.data_dir, "share", lambda: _run(cfg, args), log)


def _run(cfg: Config, args: argparse.Namespace) -> int:
    mqtt: MqttConnection | None = None
    board = board_for(cfg)
    if not args.no_mqtt:
        topics = Topics(cfg.mqtt.root)
        try:
            mqtt = MqttConnection.for_config(
                cfg.mqtt,
                f"share-{cfg.booth_id}-{os.getpid()}",
                availability_topic=topics.service_availability(cfg.booth_id, "share"),
                subscriptions=board.subscriptions(),
                on_message=lambda msg: board.feed(msg.topic, msg.payload, msg.properties),
            ).start()
        except MqttUrlError as exc:
            log.error("share: bad broker URL (%s); retention will not clear MQTT messages", exc)
    try:
        return asyncio.run(_serve(cfg, args, mqtt, board))
    finally:
        if mqtt is not None:
            mqtt.stop()
