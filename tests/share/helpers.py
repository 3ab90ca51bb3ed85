"""Test helpers for the share server: jobs made the way the kiosk makes them, a server thread."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from booth.config import Config
from booth.protocol import Effect, JobStatus, Status, new_job_id
from jobstore.ledger import Ledger, photo_dir
from jobstore.links import new_token
from jobstore.names import ai_name, original_name, result_name
from share.conncaps import ConnectionGuard, GuardedSite

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"
NO_FACE = ROOT / "tests" / "fixtures" / "no-face.jpg"


@dataclass
class Job:
    job_id: str
    token: str | None
    created_at: float
    files: list[Path]  # original, AI copy and (if any) result, absolute
    result: Path | None


def add_job(
    cfg: Config,
    ledger: Ledger,
    *,
    created_at: float | None = None,
    status: JobStatus = JobStatus.COMPLETED,
    with_result: bool = True,
    result_src: Path = PORTRAIT,
    style: str = "drip",
) -> Job:
    """A job as the kiosk records it: files under photo_dir, insert_pending, statuses, result."""
    created_at = time.time() if created_at is None else created_at
    job_id = new_job_id()
    folder = photo_dir(cfg.data_dir, created_at)
    folder.mkdir(parents=True, exist_ok=True)
    original = folder / original_name(job_id)
    ai_copy = folder / ai_name(job_id)
    shutil.copyfile(NO_FACE, original)
    shutil.copyfile(PORTRAIT, ai_copy)

    def rel(p: Path) -> str:
        return str(p.relative_to(cfg.data_dir))

    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_at))
    ledger.insert_pending(job_id, cfg.booth_id, style, created_at, iso, rel(original), rel(ai_copy))
    files = [original, ai_copy]
    token = None
    result = None
    if status is not JobStatus.PENDING:
        ledger.apply_status(
            Status(job_id=job_id, booth_id=cfg.booth_id, status=JobStatus.PROCESSING, worker="w1"),
            at=created_at + 1,
        )
    if status in (JobStatus.COMPLETED, JobStatus.FAILED):
        ledger.apply_status(
            Status(
                job_id=job_id,
                booth_id=cfg.booth_id,
                status=status,
                effect=Effect.LOCAL if status is JobStatus.COMPLETED else None,
                worker="w1",
            ),
            at=created_at + 5,
        )
    if with_result and status in (JobStatus.COMPLETED, JobStatus.PROCESSING):
        # (PROCESSING: a result stored before the 'completed' status arrived)
        token = new_token()
        result = folder / result_name(job_id, token, result_src.suffix)
        shutil.copyfile(result_src, result)
        assert ledger.store_result(job_id, rel(result), token) == token
        files.append(result)
    return Job(job_id, token, created_at, files, result)


class ServerThread:
    """An aiohttp app served on a free loopback port from a background thread's event loop."""

    def __init__(
        self, app: web.Application, guard: ConnectionGuard | None = None, **runner_kwargs
    ) -> None:
        self.app = app
        self.guard = guard
        self.runner_kwargs = runner_kwargs
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name="share-server")
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.runner = web.AppRunner(self.app, handle_signals=False, **self.runner_kwargs)
            self.loop.run_until_complete(self.runner.setup())
            site: web.BaseSite
            if self.guard is not None:
                site = GuardedSite(self.runner, "127.0.0.1", 0, self.guard)
            else:
                site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = self.runner.addresses[0][1]
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("share server did not start")
        if self._error:
            raise self._error
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(20)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        source: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection; the path is sent exactly as given. `source`: the
        loopback address to send from (any 127.x.y.z works on Linux)."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(source, 0) if source else None
        )
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})

    def raw(self, data: bytes) -> bytes:
        """Send raw bytes (for request lines http.client refuses to build) and read the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except TimeoutError:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
