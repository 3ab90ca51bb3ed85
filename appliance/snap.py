"""`booth snap PHOTO`: one photo through the real pipeline, headless.

The photo goes the way a guest's shot goes — stored, ledger row, MQTT job, a worker, the result
stored with a share token — and the result path, download URL and QR code are printed. What is not
running (broker, worker, share server) is started for the duration, as `booth up` would.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from appliance.services import Supervisor, booth_argv, child_env, ensure_broker, usable_data_dir
from booth.config import Config
from booth.images import BadImage, load_file, sniff_image_type
from booth.protocol import Topics, parse_availability

if TYPE_CHECKING:
    from kiosk.jobs.controller import JobController
    from kiosk.jobs.views import JobView

log = logging.getLogger("appliance.snap")
WORKER_WAIT_S = 30.0  # a worker process starting up says `online` well within this
CLOUD_WAIT_S = 60.0  # [cloud]: how long to wait for the upload by default (--cloud-wait)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("photo", metavar="PHOTO", help="a JPEG or PNG file")
    p.add_argument("--style", help="style preset (default: kiosk.default_style)")
    p.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"job_id", "status", "effect", "error", "result_path", '
        '"url", "code"}, with [cloud] on also "cloud_url" and "cloud_error"',
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="seconds to wait for the result (default: worker deadline + 60)",
    )
    p.add_argument(
        "--cloud-wait",
        type=float,
        default=CLOUD_WAIT_S,
        metavar="SECONDS",
        help=f"with [cloud] on: seconds to wait for the upload and its link "
        f"(default {CLOUD_WAIT_S:g}; 0: do not wait)",
    )


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(
            json.dumps(
                {
                    "job_id": None,
                    "status": "failed",
                    "effect": None,
                    "error": {"kind": "bad_input", "message": message, "retry_after_s": None},
                    "result_path": None,
                    "url": None,
                }
            )
        )
    print(f"booth snap: {message}", file=sys.stderr)
    return 2


def _read_photo(path: str) -> bytes:
    """The photo's bytes, through the image guard: too big a file is not even read whole, and
    a header declaring too many pixels is refused before anything is decoded."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{path}: no such file")
    if p.is_dir():
        raise ValueError(f"{path}: is a folder, not a photo")
    try:
        data, _info = load_file(p)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    except BadImage as exc:
        with open(p, "rb") as fh:
            if sniff_image_type(fh.read(16)) is None:
                raise ValueError(f"{path}: not a JPEG or PNG image") from None
        raise ValueError(f"{path}: cannot be used: {exc}") from None
    return data


def _worker_online(cfg: Config, wait_s: float = 1.0) -> bool:
    """Does a worker say `online` (retained availability) on the broker?"""
    from booth.mqtt import MqttConnection

    seen: dict[str, bool] = {}
    got = threading.Event()

    def on_msg(msg) -> None:
        try:
            seen[msg.topic] = parse_availability(msg.payload)
        except Exception:
            return
        if any(seen.values()):
            got.set()

    conn = MqttConnection.for_config(
        cfg.mqtt,
        f"snap-probe-{os.getpid()}",
        subscriptions=[(Topics(cfg.mqtt.root).all_worker_availability(), 1)],
        on_message=on_msg,
    ).start()
    try:
        return got.wait(wait_s)
    finally:
        conn.stop(0.5)


def _wait_for_a_worker(ctl, timeout: float) -> bool:
    """Until a worker says `online` (its subscription is in place by then): a job published
    before that could reach no one."""
    end = time.monotonic() + timeout
    while ctl.ai_online is not True:
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)
    return True


def _no_worker(ctl: JobController, started_worker: bool) -> str:
    """What to say when no worker came online: where to look, and what the broker lacks if
    that is why (a worker that asks a broker for a shared subscription it does not offer is
    disconnected, over and over)."""
    said = f"no worker said online within {WORKER_WAIT_S:g} s: the photo waits for one"
    if started_worker:
        said += "; the worker started for this snap logged why above"
    features = ctl.mqtt.features
    if features is not None and not features.shared_subscriptions:
        said += (
            "; this broker offers no shared subscriptions, which workers older than this "
            "booth ask for"
        )
    return said + "; `booth doctor` checks the broker and the workers"


def _share_here(cfg: Config) -> tuple[str, dict]:
    """Who serves `share.port` on this machine: ("ours", …) when its /healthz names this booth
    and this data dir, ("other", what it says) for another booth's, ("none", {}) when nothing
    answers. Only "ours" serves the links this snap prints."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{cfg.share.port}/healthz", timeout=1) as r:
            said = json.loads(r.read(4096) or b"{}")
    except (OSError, ValueError):
        return "none", {}
    if not isinstance(said, dict):
        return "other", {}
    same_dir = (
        said.get("data_dir")
        and Path(str(said["data_dir"])).resolve() == Path(cfg.data_dir).resolve()
    )
    if said.get("booth_id") == cfg.booth_id and same_dir:
        return ("ours" if said.get("ok") else "none"), said
    return "other", said


def _share_up(cfg: Config) -> bool:
    return _share_here(cfg)[0] == "ours"


def _wait(ctl, cfg: Config, job_id: str, timeout: float, started_share: bool):
    """The job's view once it is ready or failed (or the last one seen at the timeout)."""
    view = ctl.wait_done(job_id, timeout)
    # The result is published before the final status: give the status a moment to land.
    end = time.monotonic() + 5
    while view is not None and view.ready and not view.status.is_final and time.monotonic() < end:
        time.sleep(0.05)
        view = ctl.view(job_id) or view
    if started_share:  # let the freshly started server come up before printing its URL
        end = time.monotonic() + 10
        while not _share_up(cfg) and time.monotonic() < end:
            time.sleep(0.1)
    return view


@dataclass(frozen=True)
class CloudOutcome:
    """[cloud]: the confirmed link, or why there is none yet."""

    url: str | None
    expires_at: float | None
    error: str | None


def _wait_cloud(ctl: JobController, job_id: str, wait_s: float) -> CloudOutcome:
    """Until the share process confirmed the upload (the link the result screen would switch
    to), at most `wait_s`: the share server this snap started stops when it returns, and a
    link printed before the upload was confirmed would not open yet."""
    end = time.monotonic() + wait_s
    while True:
        view = ctl.view(job_id)
        if view is not None and view.cloud_url:
            return CloudOutcome(view.cloud_url, view.cloud_expires_at, None)
        if time.monotonic() >= end:
            break
        time.sleep(0.1)
    row = ctl.uploads.get(job_id) if ctl.uploads is not None else None
    if row is None:
        why = "no share server with [cloud] on queued it"
    elif row.last_error:
        why = f"{row.last_error} (tried {row.attempts}×)"
    else:
        why = "queued, no answer from the bucket yet (`booth doctor` checks the bucket)"
    return CloudOutcome(None, None, f"not uploaded within {wait_s:g} s: {why}")


class SnapResult(TypedDict):
    """What `booth snap --json` prints, one JSON object."""

    job_id: str
    status: str  # a JobStatus value, or "pending" when no status came
    effect: str | None
    error: dict[str, Any] | None  # JobError.to_dict(), or kind "timeout" in the same shape
    result_path: str | None
    url: str | None  # the LAN link
    code: str | None
    cloud_url: NotRequired[str | None]  # with [cloud] on: the confirmed cloud link
    cloud_error: NotRequired[str | None]  # with [cloud] on and no link: why


def _report(
    cfg: Config,
    job_id: str,
    view: JobView | None,
    timeout: float,
    as_json: bool,
    started_share: bool,
    cloud: CloudOutcome | None = None,
) -> None:
    result: SnapResult = {
        "job_id": job_id,
        "status": view.status.value if view else "pending",
        "effect": view.effect if view else None,
        "error": view.error.to_dict() if view and view.error else None,
        "result_path": str(view.result_path) if view and view.result_path else None,
        "url": view.share_url if view else None,
        "code": view.code if view else None,
    }
    if cfg.cloud.enabled:
        result["cloud_url"] = cloud.url if cloud else None
        result["cloud_error"] = cloud.error if cloud else None
    if view is None or not view.finished:
        result["error"] = {
            "kind": "timeout",
            "message": f"no result within {timeout:g} s",
            "retry_after_s": None,
        }
    if as_json:
        print(json.dumps(result))
    elif view is not None and view.ready:
        from booth.qr import qr_terminal
        from jobstore.links import CODE_PATH, code_address, qr_link

        url, error = result["url"], result["error"]
        print(f"result:   {result['result_path']}")
        print(f"download: {url}")
        if result["code"]:
            print(f"or type:  {code_address(cfg)}{CODE_PATH.format(code=result['code'])}")
        if error:
            print(f"note:     the AI failed ({error['kind']}); effect {result['effect']} was used")
        assert url is not None  # a ready view has a token, so a LAN link (kiosk/jobs/views.py)
        if cloud is not None and cloud.url:
            until = (
                time.strftime(" (until %Y-%m-%d %H:%M)", time.localtime(cloud.expires_at))
                if cloud.expires_at
                else ""
            )
            print(f"cloud:    {cloud.url}{until}")
            print(qr_terminal(cloud.url))  # the link the result screen shows: any network
        else:
            if cloud is not None:
                print(f"cloud:    {cloud.error}; the LAN link works meanwhile")
            print(qr_terminal(qr_link(url)))
        if started_share:
            print(
                "(the download server was started just for this snap and stops now; run "
                "`booth up` or `booth share` to keep the LAN link working"
                + (" and to upload the photo" if cloud is not None and not cloud.url else "")
                + ")"
            )
    else:
        err = result["error"] or {}
        print(
            f"booth snap: job {job_id} {result['status']}: "
            f"{err.get('kind', 'unknown')}: {err.get('message', '')}",
            file=sys.stderr,
        )


def run(cfg: Config, args: argparse.Namespace) -> int:
    try:
        photo = _read_photo(args.photo)
    except ValueError as exc:
        return _fail(str(exc), args.json)
    if args.style and args.style not in cfg.styles:
        return _fail(f"unknown style {args.style!r}; styles: {', '.join(cfg.styles)}", args.json)

    data_dir = usable_data_dir(cfg)
    cfg.data_dir = str(data_dir)
    share, said = _share_here(cfg)
    if share == "other":
        where = said.get("data_dir", "another data dir")
        return _fail(
            f"the share server on port {cfg.share.port} serves booth "
            f"{said.get('booth_id', '?')!r} from {where}, not this booth "
            f"({cfg.booth_id!r}, {data_dir}): its link would not open this photo; "
            "stop that server or give this booth its own share.port",
            args.json,
        )
    url, broker = ensure_broker(cfg, data_dir)
    cfg.mqtt.url = url
    sup = Supervisor(child_env(cfg, url, data_dir, getattr(args, "config", None)))
    ctl = None
    try:
        # a broker started just now has no worker yet: no need to ask it
        started_worker = broker is not None or not _worker_online(cfg)
        if started_worker:
            log.info("no worker online: starting one for this snap")
            sup.add("worker", booth_argv("worker"))
        started_share = share == "none"
        if started_share:
            sup.add("share", booth_argv("share", "--no-retention"))
        sup.start_all()

        from kiosk.jobs.controller import JobController

        ctl = JobController(cfg, client_suffix=f"-snap-{os.getpid()}").start()
        if not _wait_for_a_worker(ctl, WORKER_WAIT_S):
            log.warning("%s", _no_worker(ctl, started_worker))
        timeout = args.timeout or cfg.worker.deadline_s + 60
        try:
            job_id = ctl.submit_jpeg(photo, args.style)
        except ValueError as exc:
            return _fail(str(exc), args.json)
        view = _wait(ctl, cfg, job_id, timeout, started_share)
        ok = view is not None and view.ready
        cloud = None
        if ok and cfg.cloud.enabled:
            if args.cloud_wait > 0 and not args.json:
                print(
                    f"waiting for the cloud upload (at most {args.cloud_wait:g} s) …",
                    file=sys.stderr,
                )
            cloud = _wait_cloud(ctl, job_id, args.cloud_wait)
        _report(cfg, job_id, view, timeout, args.json, started_share, cloud)
    finally:
        if ctl is not None:
            ctl.stop()
        sup.stop_all()
        if broker:
            broker.stop()
    return 0 if ok else 1
