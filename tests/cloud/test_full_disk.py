"""The cloud uploader on a full disk (a real 4 MB tmpfs as the data dir): what it uploaded but
could not record is recorded once there is room, not put again and again meanwhile
(share/uploader.py), for a photo and for a clip. The S3 server is behind a proxy that counts
the PUTs (tests/support/throttle.py, fast enough never to hold one back)."""

from __future__ import annotations

import logging
import time

import pytest

from booth.config import load_config
from jobstore.ledger import Ledger, ledger_path
from jobstore.uploads import UPLOADED, Upload, Uploads
from share import uploader as uploader_module
from share.uploader import Uploader
from tests.cloud.helpers import clip_bytes, made_clip, wait_for
from tests.share.helpers import add_job
from tests.support.s3 import S3Base, cloud_toml
from tests.support.smalldisk import fill, ledger_refuses_writes, small_tmpfs
from tests.support.throttle import ThrottledProxy

FAST = 50_000_000  # bytes/s: the proxy only counts


@pytest.mark.s3("moto")  # the uploader's bookkeeping, not the server, is the subject
@pytest.mark.slow
def test_a_full_disk_holds_what_was_uploaded_until_it_can_be_recorded(
    tmp_path, s3: S3Base, caplog, monkeypatch
):
    monkeypatch.setattr(uploader_module, "STORAGE_RETRY_S", 0.5)
    proxy = ThrottledProxy(s3.port, FAST, shared=False).start()
    with small_tmpfs(tmp_path / "disk") as disk:
        toml = tmp_path / "booth.toml"
        toml.write_text(f'data_dir = "{disk}"\n' + cloud_toml(s3, endpoint=proxy.endpoint))
        cfg = load_config(toml, env={**s3.creds, "BOOTH_ID": "testbooth"})
        path = ledger_path(cfg.data_dir)
        ledger = Ledger(path)  # open all along, like the kiosk's
        queue = Uploads(path)
        up: Uploader | None = None
        filler = disk / "filler"
        try:
            job = add_job(cfg, ledger)
            assert job.result is not None
            queue.enqueue_new(cfg.cloud.key_prefix, 0.0, time.time())
            row = queue.get(job.job_id)
            assert row is not None

            def puts(key: str) -> int:
                return sum(1 for r in proxy.started(key) if r.method == "PUT")

            def said(words: str) -> int:
                return sum(
                    1
                    for r in caplog.records
                    if r.name == "share.uploader" and words in r.getMessage()
                )

            def now() -> Upload:
                found = queue.get(job.job_id)
                assert found is not None
                return found

            with caplog.at_level(logging.INFO, logger="share.uploader"):
                # 1. a photo: uploaded, but its row cannot be marked
                fill(filler)
                assert ledger_refuses_writes(path)
                up = Uploader(cfg).start()
                assert wait_for(lambda: puts(row.page_key) >= 1, 30), proxy.requests
                time.sleep(3.0)  # six looks at 0.5 s
                assert puts(row.photo_key) == 1 and puts(row.page_key) == 1, proxy.requests
                assert said("cannot be written") == 1 and now().state != UPLOADED
                filler.unlink()
                assert wait_for(lambda: now().state == UPLOADED, 15), now()
                assert puts(row.photo_key) == 1 and puts(row.page_key) == 1  # recorded as it was
                assert s3.read(row.photo_key) == job.result.read_bytes()
                assert said("writes again") == 1

                # 2. its clip: the try cannot even be recorded, so nothing goes up, and the
                # disk's fault is not counted as one of the clip's tries
                made_clip(cfg, job, clip_bytes(200_000))
                clip_key = row.page_key + ".mp4"
                fill(filler)
                assert ledger_refuses_writes(path)
                up.wake()
                assert wait_for(lambda: said("cannot be written") == 2, 15)
                time.sleep(3.0)
                assert puts(clip_key) == 0 and now().clip_attempts == 0, proxy.requests
                filler.unlink()
                assert wait_for(lambda: now().clip_state == UPLOADED, 15), now()
                assert puts(clip_key) == 1 and puts(row.page_key) == 2, proxy.requests
                assert s3.read(clip_key) == clip_bytes(200_000)
            assert said("cannot be written") == 2 and said("writes again") == 2
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert not errors, errors
        finally:
            if up is not None:
                up.stop()
            queue.close()
            ledger.close()
            proxy.stop()
