"""Uploads on a slow uplink: the S3 server behind a throttling proxy (tests/support/throttle.py)
at 64 kB/s, the share process's uploader in this process, results stored as the kiosk stores
them.

- a new result starts uploading within a second whatever is in flight, and where the uplink
  gives each connection its rate its link comes after its own upload, not after the older
  ones' (the uploader once queued new results only between batches and waited for a whole
  batch: the second of three photos had no upload row for seconds);
- a backlog wider than a shared uplink carries within the request timeout still drains (four
  uploads at once once each missed the timeout, round after round, forever);
- where even that is not enough, fewer run at once instead of none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import share.cloud
from booth.config import Config, load_config
from jobstore.ledger import Ledger, ledger_path
from jobstore.uploads import Uploads
from share.uploader import Uploader
from tests.cloud.helpers import noise_jpeg, wait_for
from tests.share.helpers import add_job
from tests.support.s3 import S3Base, cloud_toml
from tests.support.throttle import ThrottledProxy

RATE = 64 * 1024  # bytes/s from the booth to the bucket


@dataclass
class Shot:
    job_id: str
    stored_at: float  # time.time() right after the result was stored
    stored_mono: float


@dataclass
class Booth:
    cfg: Config
    ledger: Ledger
    queue: Uploads
    proxy: ThrottledProxy

    def shoot(self, result: Path) -> Shot:
        job = add_job(self.cfg, self.ledger, result_src=result)
        return Shot(job.job_id, time.time(), time.monotonic())

    def photo_put(self, shot: Shot) -> float | None:
        """When the proxy saw the first PUT of the shot's photo (monotonic), if it did."""
        row = self.queue.get(shot.job_id)
        seen = self.proxy.started(row.photo_key) if row is not None else []
        return seen[0].at if seen else None

    def link_after(self, shot: Shot) -> float | None:
        row = self.queue.get(shot.job_id)
        if row is None or row.uploaded_at is None:
            return None
        return row.uploaded_at - shot.stored_at


@pytest.fixture
def slow_booth(tmp_path: Path, s3: S3Base) -> Iterator[Callable[..., Booth]]:
    made: list[tuple[ThrottledProxy, Ledger, Uploads]] = []

    def _make(*, shared: bool, timeout_s: float = 30.0) -> Booth:
        proxy = ThrottledProxy(s3.port, RATE, shared=shared).start()
        toml = tmp_path / "booth.toml"
        toml.write_text(
            f'data_dir = "{tmp_path}/data"\n'
            + cloud_toml(s3, endpoint=proxy.endpoint, timeout_s=timeout_s)
        )
        cfg = load_config(toml, env={**s3.creds, "BOOTH_ID": "testbooth"})
        ledger = Ledger(ledger_path(cfg.data_dir))
        queue = Uploads(ledger_path(cfg.data_dir))
        made.append((proxy, ledger, queue))
        return Booth(cfg, ledger, queue, proxy)

    yield _make
    for proxy, ledger, queue in made:
        queue.close()
        ledger.close()
        proxy.stop()


def test_a_new_photo_starts_uploading_at_once_beside_a_slow_one(slow_booth, tmp_path):
    """Three photos a second apart while the first one's 4-second upload runs, each
    connection at 64 kB/s: every upload starts within a second of its result, and the newer
    photos' links come as soon as their own upload allows."""
    booth = slow_booth(shared=False)
    result = noise_jpeg(tmp_path / "result.jpg", 256 * 1024)  # 4 s at 64 kB/s
    up = Uploader(booth.cfg).start()
    try:
        first = booth.shoot(result)
        assert wait_for(lambda: booth.photo_put(first) is not None, 5)
        time.sleep(1.0)
        second = booth.shoot(result)
        time.sleep(1.0)
        third = booth.shoot(result)
        shots = [first, second, third]
        assert wait_for(lambda: all(booth.link_after(s) is not None for s in shots), 40)
    finally:
        up.stop()
    starts = [booth.photo_put(s) for s in shots]
    links = [booth.link_after(s) for s in shots]
    figures = ", ".join(
        f"photo {n}: upload started after {(t or 0) - s.stored_mono:.1f} s, link after {link:.1f} s"
        for n, (s, t, link) in enumerate(zip(shots, starts, links), 1)
        if link is not None
    )
    print(figures)
    for n, (shot, started) in enumerate(zip(shots, starts), 1):
        assert started is not None and started - shot.stored_mono < 1.0, f"photo {n}: {figures}"
    solo = links[0]
    assert solo is not None
    for n in (2, 3):
        link = links[n - 1]
        assert link is not None and link < solo + 1.5, f"photo {n} held back: {figures}"


def test_a_backlog_wider_than_a_shared_uplink_drains(slow_booth, caplog):
    """Four photos at once on one 64 kB/s uplink with a 2 s request timeout: each upload
    alone would take 1 s, all four at once 4 s. Each PUT gets the time its size needs at the
    slowest uplink share we serve, so they all go up, without a word about the network."""
    booth = slow_booth(shared=True, timeout_s=2.0)
    shots = [booth.shoot(share_fixture()) for _ in range(4)]
    with caplog.at_level(logging.INFO, logger="share.uploader"):
        up = Uploader(booth.cfg).start()
        try:
            drained = wait_for(lambda: booth.queue.counts() == {"uploaded": 4}, 30)
        finally:
            up.stop()
    assert drained, f"{booth.queue.counts()} after 30 s\n{caplog.text}"
    assert len({r.conn for r in booth.proxy.requests if r.method == "PUT"}) >= 2  # at once
    assert "timed out" not in caplog.text and "no answer" not in caplog.text, caplog.text
    assert up.status.failures == 0 and up.status.state == "online"
    assert all(booth.link_after(s) is not None for s in shots)


@pytest.mark.s3("moto")  # how the uploader reacts, not what the server does
def test_uploads_that_time_out_together_run_fewer_at_once(slow_booth, caplog, monkeypatch):
    """Where even the size-scaled timeout is too short for four at once (here it is made
    exactly `cloud.timeout_s`), the uploader halves how many run at once and drains the
    queue, instead of pausing it as if the network were down."""
    monkeypatch.setattr(share.cloud, "MIN_UPLINK_BPS", float("inf"))
    booth = slow_booth(shared=True, timeout_s=3.0)  # one photo: 1 s; two: 2 s; four: 4 s
    for _ in range(4):
        booth.shoot(share_fixture())
    with caplog.at_level(logging.INFO, logger="share.uploader"):
        up = Uploader(booth.cfg).start()
        try:
            drained = wait_for(lambda: booth.queue.counts() == {"uploaded": 4}, 40)
        finally:
            up.stop()
    assert drained, f"{booth.queue.counts()}\n{caplog.text}"
    assert "with 4 running at once: the uplink is too slow for that many; now at most 2" in (
        caplog.text
    )
    assert "cannot reach" not in caplog.text and up.status.state == "online", caplog.text


def share_fixture() -> Path:
    from tests.share.helpers import PORTRAIT

    return PORTRAIT  # 68 KB: about 1 s at 64 kB/s


def _two_puts_at_once(endpoint: str, bucket: str, size: int, tag: str) -> list[float]:
    """Seconds each of two simultaneous PUTs of `size` bytes took."""
    import urllib.request

    times: list[float] = []

    def put(n: int) -> None:
        req = urllib.request.Request(
            f"{endpoint}/{bucket}/throttle-{tag}-{n}", data=b"x" * size, method="PUT"
        )
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
        times.append(time.monotonic() - t0)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


@pytest.mark.s3("moto")  # the proxy, not the server
def test_the_throttle_itself(s3: S3Base) -> None:
    """The proxy holds the rate it is given, shared or per connection (else the figures above
    would mean nothing)."""
    size = 96 * 1024
    alone = size / RATE  # 1.5 s
    for shared, each in ((True, 2 * alone), (False, alone)):  # shared: two split the rate
        proxy = ThrottledProxy(s3.port, RATE, shared=shared).start()
        try:
            times = _two_puts_at_once(proxy.endpoint, s3.bucket, size, f"shared-{shared}")
        finally:
            proxy.stop()
        assert len(times) == 2 and all(each * 0.8 < t < each * 1.5 for t in times), (shared, times)
