"""`booth up --headless --shots N` in strip mode: N is sessions, not frames, and the run ends
only once the last session's sheet is stored (appliance/up.py, kiosk/ui/automation.py)."""

from __future__ import annotations

import re
import sqlite3

from tests.e2e.rig import base_toml, run_up
from tests.e2e.test_up import up_env

STRIP = "[strip]\nshots = 3\npause_s = 0.5\n"


def test_up_with_a_shot_limit_in_strip_mode_counts_sessions_and_waits_for_their_sheets(rig):
    toml = base_toml(rig.share_port).replace("[kiosk]\n", '[kiosk]\nmode = "strip"\n', 1)
    rig.config.write_text(toml + STRIP)
    code, said = run_up(up_env(rig), timeout=240)
    assert code == 0, said
    assert "headless kiosk finished its 2 strip sessions" in said, said
    db = sqlite3.connect(str(rig.data / "ledger.sqlite"))
    try:
        sessions = db.execute("SELECT session_id, state FROM sessions").fetchall()
        frames = db.execute("SELECT COUNT(*) FROM session_frames").fetchone()[0]
        sheets = db.execute(
            "SELECT COUNT(*) FROM jobs WHERE job_id IN (SELECT session_id FROM sessions)"
            " AND result_path IS NOT NULL AND token IS NOT NULL"
        ).fetchone()[0]
    finally:
        db.close()
    # two sessions of three frames each, both composed before the run ended
    assert [state for _sid, state in sessions] == ["composed", "composed"], sessions
    assert frames == 6 and sheets == 2
    # each sheet's link was printed (after its frames')
    links = re.findall(r"download: (\S+)", said)
    assert len(links) == 8, said
