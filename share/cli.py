"""`booth share`: the download server guests' phones reach over the booth's Wi-Fi.

Runs the aiohttp app on `share.host:share.port`, a periodic retention task, an MQTT connection
used only to clear the retained messages of deleted jobs, the cloud uploader when `[cloud]` is
enabled, and the systemd READY/watchdog pings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from aiohttp import web

from booth import sdnotify
from booth.config import Config
from booth.mqtt import MqttConnection, MqttUrlError
from jobstore.links import public_base_url
from share.server import MaskedAccessLogger, make_app, quiet_bad_requests

log = logging.getLogger("share")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="listen address (default: share.host)")
    p.add_argument("--port", type=int, help="listen port (default: share.port)")
    p.add_argument("--no-retention", action="store_true",
                   help="do not delete old jobs from this process")
    p.add_argument("--no-mqtt", action="store_true",
                   help="no broker connection (retention then only deletes files and rows)")
    p.add_argument("--no-cloud", action="store_true",
                   help="do not upload to the bucket from this process even with cloud.enabled")


async def _serve(cfg: Config, args: argparse.Namespace, mqtt: MqttConnection | None) -> int:
    host = args.host or cfg.share.host
    port = args.port if args.port is not None else cfg.share.port
    cfg.share.port = port  # the derived public URL uses the port actually served
    quiet_bad_requests()
    app = make_app(cfg, mqtt=mqtt,
                   retention_every_s=None if args.no_retention else cfg.share.retention_every_s)
    runner = web.AppRunner(app, access_log_class=MaskedAccessLogger, handle_signals=False,
                           shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        log.error("share: cannot listen on %s:%s: %s", host, port, exc.strerror)
        await runner.cleanup()
        return 1
    base = public_base_url(cfg)
    log.info("share: serving on %s:%s; guests' links start with %s/p/", host, port, base)
    if "://127." in base or "://localhost" in base:
        log.warning("share: the download links point at this machine's loopback address; set "
                    "share.public_url or connect the booth to a network so phones can reach it")
    if cfg.share.wifi_ssid:
        kind = "WPA" if cfg.share.wifi_password else "open"
        log.info("share: Wi-Fi join QR for %s network %r is available", kind, cfg.share.wifi_ssid)
    if cfg.share.portal:
        log.info("share: captive portal on (booth Wi-Fi): phones' connectivity checks are "
                 "answered, any other address shows 'scan the photo QR'")
    if not cfg.share.admin_password:
        log.info("share: operator gallery disabled (set BOOTH_ADMIN_PASSWORD to enable /admin)")

    # [cloud]: the upload queue is drained from this process (share/uploader.py says why)
    uploader = None
    if cfg.cloud.enabled and not args.no_cloud:
        from share.uploader import Uploader
        uploader = Uploader(cfg).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sdnotify.ready(f"serving on {host}:{port}")
    try:
        while not stop.is_set():
            sdnotify.watchdog()
            try:
                await asyncio.wait_for(stop.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                pass
    finally:
        sdnotify.stopping()
        log.info("share: stopping")
        if uploader is not None:
            await loop.run_in_executor(None, uploader.stop)
        await runner.cleanup()
    return 0


def run(cfg: Config, args: argparse.Namespace) -> int:
    mqtt: MqttConnection | None = None
    if not args.no_mqtt and not args.no_retention:
        try:
            mqtt = MqttConnection(cfg.mqtt.url, f"share-{cfg.booth_id}-{os.getpid()}",
                                  keepalive_s=cfg.mqtt.keepalive_s,
                                  ca_file=cfg.mqtt.ca_file or None).start()
        except MqttUrlError as exc:
            log.error("share: bad broker URL (%s); retention will not clear MQTT messages", exc)
    try:
        return asyncio.run(_serve(cfg, args, mqtt))
    finally:
        if mqtt is not None:
            mqtt.stop()
