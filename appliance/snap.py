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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from appliance.services import Supervisor, booth_argv, child_env, ensure_broker, usable_data_dir
from booth.config import Config
from booth.images import BadImage, load_file, sniff_image_type
from booth.protocol import Topics, parse_availability

if TYPE_CHECKING:
    from kiosk.jobs.controller import JobController

log = logging.getLogger("appliance.snap")
WORKER_WAIT_S = 30.0  # a worker process starting up says `online` well within this


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("photo", metavar="PHOTO", help="a JPEG or PNG file")
    p.add_argument("--style", help="style preset (default: kiosk.default_style)")
    p.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"job_id", "status", "effect", "error", "result_path", "url"}',
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="seconds to wait for the result (default: worker deadline + 60)",
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


class SnapResult(TypedDict):
    """What `booth snap --json` prints, one JSON object."""

    job_id: str
    status: str  # a JobStatus value, or "pending" when no status came
    effect: str | None
    error: dict[str, Any] | None  # JobError.to_dict(), or kind "timeout" in the same shape
    result_path: str | None
    url: str | None  # the LAN link
    code: str | None


def _report(
    cfg: Config, job_id: str, view, timeout: float, as_json: bool, started_share: bool
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
        print(qr_terminal(qr_link(url)))
        if started_share:
            print(
                "(the download server was started just for this snap and stops now; run "
                "`booth up` or `booth share` to keep the link working)"
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
        _report(cfg, job_id, view, timeout, args.json, started_share)
    finally:
        if ctl is not None:
            ctl.stop()
        sup.stop_all()
        if broker:
            broker.stop()
    return 0 if ok else 1
