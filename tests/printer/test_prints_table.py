"""The prints table (jobstore/prints.py) on a real ledger: a request is idempotent, a guest's
request makes nothing while a print of the photo waits or beyond the photo's limit, nobody's goes
beyond the event's paper, states only move forward, the queue comes out in order, and the
operator's paper counts for the event it was added in."""

from __future__ import annotations

import time

import pytest

from jobstore import prints as pq
from jobstore.ledger import Ledger, ledger_path
from jobstore.prints import Budget, PrintQueue


@pytest.fixture
def ledger_and_queue(tmp_path):
    ledger = Ledger(ledger_path(tmp_path))
    queue = PrintQueue(ledger_path(tmp_path))
    yield ledger, queue
    queue.close()
    ledger.close()


def photo(ledger: Ledger, job_id: str, result: bool = True, at: float | None = None) -> str:
    now = time.time() if at is None else at
    ledger.insert_pending(job_id, "b1", "drip", now, "2026-01-01T00:00:00Z", "o.jpg", "a.jpg")
    if result:
        assert ledger.store_result(job_id, f"{job_id}-result.jpg")
    return job_id


def test_a_request_is_made_once_whatever_is_delivered_twice(ledger_and_queue):
    ledger, queue = ledger_and_queue
    job = photo(ledger, "job00000001")
    first = queue.request(job, "r-1", 2, pq.GUEST, per_photo=2, budget=None)
    again = queue.request(job, "r-1", 2, pq.GUEST, per_photo=2, budget=None)
    assert len(first.rows) == 2 and again.repeat and again.rows == first.rows
    assert len(queue.for_job(job)) == 2


def test_a_guest_gets_nothing_while_a_print_waits_nor_beyond_the_limit(ledger_and_queue):
    ledger, queue = ledger_and_queue
    job = photo(ledger, "job00000002")
    [row] = queue.request(job, "r-1", 1, pq.GUEST, per_photo=2, budget=None).rows
    assert queue.request(job, "r-2", 1, pq.GUEST, per_photo=2, budget=None).refused == "waiting"
    queue.mark_sent(row.print_id, 7)
    assert queue.move(row.print_id, pq.PRINTED)
    [second] = queue.request(job, "r-3", 5, pq.GUEST, per_photo=2, budget=None).rows
    queue.move(second.print_id, pq.FAILED, error="jam")  # a failed sheet does not count
    [third] = queue.request(job, "r-4", 1, pq.GUEST, per_photo=2, budget=None).rows
    queue.move(third.print_id, pq.PRINTED)
    assert queue.request(job, "r-5", 1, pq.GUEST, per_photo=2, budget=None).refused == "limit"
    # the operator's reprint is not the guest's: it goes, and does not use the guest's limit
    assert len(queue.request(job, "op-1", 2, pq.OPERATOR, per_photo=None, budget=None).rows) == 2
    assert queue.photo(job).guest_used == 2 and queue.photo(job).total == 4


def test_nobody_prints_beyond_the_paper(ledger_and_queue):
    ledger, queue = ledger_and_queue
    a, b = photo(ledger, "job00000003"), photo(ledger, "job00000004")
    budget = Budget(total=3, used=0)
    assert len(queue.request(a, "r-1", 2, pq.GUEST, per_photo=5, budget=budget).rows) == 2
    used = queue.budget(3, 0.0, 0.0)
    assert (used.used, used.left) == (2, 1)
    assert len(queue.request(b, "r-2", 5, pq.OPERATOR, per_photo=None, budget=used).rows) == 1
    assert (
        queue.request(
            b, "r-3", 1, pq.OPERATOR, per_photo=None, budget=queue.budget(3, 0, 0)
        ).refused
        == "budget"
    )
    queue.add_budget(10)
    assert queue.budget(3, 0.0, 0.0).left == 10


def test_paper_added_counts_for_its_event(ledger_and_queue):
    ledger, queue = ledger_and_queue
    queue.add_budget(100, at=50_000.0)  # last event: more than a pause before this one
    queue.add_budget(7, at=99_000.0)  # before this event's first photo, within the pause
    assert queue.budget(400, start=100_000.0, grace_s=6 * 3600).total == 407
    assert queue.budget(400, start=200_000.0, grace_s=6 * 3600).total == 400
    assert queue.budget(0, start=10_000.0, grace_s=3600).left is None  # no budget at all


def test_states_only_move_forward_and_the_queue_keeps_its_order(ledger_and_queue):
    ledger, queue = ledger_and_queue
    jobs = [photo(ledger, f"job0000010{i}") for i in range(3)]
    rows = [queue.request(j, f"r-{j}", 1, pq.GUEST, per_photo=1, budget=None).rows[0] for j in jobs]
    assert [r.job_id for r in queue.queue()] == jobs
    queue.will_send(rows[1].print_id)
    assert [r.print_id for r in queue.tried_not_sent()] == [rows[1].print_id]
    queue.mark_sent(rows[1].print_id, 42)
    assert [r.job_id for r in queue.queue()] == [jobs[1], jobs[0], jobs[2]]  # CUPS's first
    assert queue.move(rows[1].print_id, pq.PRINTED)
    assert not queue.move(rows[1].print_id, pq.PRINTING)  # never back
    assert not queue.move(rows[1].print_id, pq.FAILED)  # nor out of a final state
    assert not queue.mark_sent(rows[1].print_id, 43)
    assert queue.cancel_requested() == [rows[0].print_id, rows[2].print_id]
    assert queue.queue() == []


def test_a_photo_without_its_picture_is_not_printed_and_gone_photos_are_forgotten(ledger_and_queue):
    ledger, queue = ledger_and_queue
    pending = photo(ledger, "job00000200", result=False)
    assert (
        queue.request(pending, "r-1", 1, pq.GUEST, per_photo=1, budget=None).refused == "no_photo"
    )
    job = photo(ledger, "job00000201")
    queue.request(job, "r-2", 1, pq.GUEST, per_photo=1, budget=None)
    ledger.delete([job])
    assert queue.forget_gone_jobs() == [job] and queue.for_job(job) == []


def test_job_names_carry_the_print_id():
    assert pq.print_id_of(pq.cups_job_name("0123456789abcdef")) == "0123456789abcdef"
    assert pq.print_id_of("booth-print-") is None and pq.print_id_of("report.pdf") is None
    assert pq.print_id_of("booth-print-NOT-HEX") is None
