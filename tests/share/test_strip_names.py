"""A strip session's sheet downloads under a name of its own: `drip-strip-<date>-0001.jpg` (the
day's first session; `grid` for a 2x2 sheet), and its clip as the same `.mp4`. The sheet is not
a shot: the day's shot numbers count the frames and photos only."""

from __future__ import annotations

import re
import time

from share.lookup import PhotoLookup
from tests.share.helpers import add_job
from tests.share.test_strip_share import make_session

DAY = time.strftime("%Y-%m-%d")


def test_the_sheet_downloads_under_its_own_name(cfg, ledger, server):
    first = make_session(cfg, ledger)
    second = make_session(cfg, ledger, shots=3, kind="grid")
    single = add_job(cfg, ledger)
    lookup = PhotoLookup(ledger, cfg.data_dir, cfg.retention_days)

    def name(job_id: str) -> str:
        row = ledger.get(job_id)
        assert row is not None
        return lookup.filename(row)

    assert name(first.session_id) == f"drip-strip-{DAY}-0001.jpg"
    assert name(second.session_id) == f"drip-grid-{DAY}-0002.jpg"
    # the shots of the day: four frames, three frames, then the photo: the sheets not counted
    shots = [*first.frames, *second.frames, single.job_id]
    assert sorted(name(j) for j in shots) == [f"drip-{DAY}-{n:04d}.jpg" for n in range(1, 9)]
    assert name(single.job_id) == f"drip-{DAY}-0008.jpg"

    # what the guest's phone gets: the page's Download and the file's own name
    _s, _h, body = server.get(f"/p/{first.sheet_token}")
    download = re.search(r'id="download"[^>]*download="([^"]*)"', body.decode())
    assert download and download.group(1) == f"drip-strip-{DAY}-0001.jpg"
    status, headers, _data = server.get(f"/p/{first.sheet_token}/photo.jpg?dl=1")
    assert status == 200 and f"drip-strip-{DAY}-0001.jpg" in headers["content-disposition"]
