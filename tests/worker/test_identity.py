"""Default worker ids: stable across restarts (persistent session), distinct side by side."""

from __future__ import annotations

from worker.service import claim_worker_id


def test_slot_ids_distinct_side_by_side_and_reused_after_exit(make_config):
    cfg = make_config()
    id1, lock1 = claim_worker_id(cfg)
    id2, lock2 = claim_worker_id(cfg)
    assert id1 != id2 and id1.startswith("worker-") and id1.endswith("-1")
    lock1.close()  # the first worker exits (or is killed)
    id3, lock3 = claim_worker_id(cfg)
    assert id3 == id1  # its restart gets the same id back
    lock2.close()
    lock3.close()
