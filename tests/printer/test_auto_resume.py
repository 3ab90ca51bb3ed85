"""The rule that resumes a stopped CUPS queue without anyone (printer/watch.py AutoResume;
docs/printing.md, "A stopped queue"), on the looks the printer process takes: the queue's
state as CUPS says it and, for a network printer, the printer's own word. The real-stack test
(tests/printer/test_printer_trouble.py) shows it on cupsd and ippeveprinter; here every branch
of the rule, on a clock the test moves, including the USB printer CUPS hears from only while a
job runs."""

from __future__ import annotations

from printer.cups import IDLE, PROCESSING, STOPPED, DeviceState, QueueState
from printer.watch import AutoResume, Look

IPP = "ipp://printer.local/ipp/print"
USB = "gutenprint53+usb://dnp-ds620/ABC123"


def queue(
    state: int = STOPPED,
    reasons: tuple[str, ...] = ("paused",),
    uri: str = IPP,
    accepting: bool = True,
) -> QueueState:
    return QueueState("booth", state, reasons, accepting, "", uri, 0)


def ready_device() -> DeviceState:
    return DeviceState(IDLE, (), True, "Idle.")


def empty_device() -> DeviceState:
    return DeviceState(IDLE, ("media-empty-report",), True, "Idle.")


def run(rule: AutoResume, looks: list[tuple[float, QueueState, DeviceState | None]]) -> list[float]:
    """The times at which the rule resumed, over the looks (time, queue, device)."""
    out = []
    for at, q, d in looks:
        if rule.decide(Look(at, q, d)) is not None:
            rule.resumed(at)
            out.append(at)
    return out


def test_a_network_printer_is_resumed_once_it_has_said_ready_for_the_while():
    rule = AutoResume(ready_for_s=10)
    looks = [(t, queue(), empty_device()) for t in range(0, 30)]  # no paper: never
    looks += [(t, queue(), ready_device()) for t in range(30, 45)]  # paper loaded at 30
    assert run(rule, looks) == [40]


def test_a_break_in_ready_starts_the_while_again():
    rule = AutoResume(ready_for_s=10)
    looks = [(t, queue(), ready_device()) for t in range(0, 8)]
    looks += [(8, queue(), DeviceState(PROCESSING, ("media-jam",), True, ""))]
    looks += [(t, queue(), ready_device()) for t in range(9, 25)]
    assert run(rule, looks) == [19]


def test_a_printer_that_does_not_answer_is_not_ready():
    rule = AutoResume(ready_for_s=5)
    assert run(rule, [(t, queue(), None) for t in range(0, 600)]) == []


def test_a_rejecting_queue_and_a_running_one_are_left_alone():
    rule = AutoResume(ready_for_s=1)
    assert run(rule, [(t, queue(accepting=False), ready_device()) for t in range(100)]) == []
    assert run(rule, [(t, queue(IDLE, ()), ready_device()) for t in range(100)]) == []


def test_a_queue_that_stops_again_at_once_waits_twice_as_long_each_time():
    rule = AutoResume(ready_for_s=1, first_wait_s=60, quick_stop_s=60)
    resumed: list[float] = []
    t = 0.0
    for _ in range(4):
        while rule.decide(Look(t, queue(), ready_device())) is None:
            t += 1
        rule.resumed(t)
        resumed.append(t)
        t += 5
        rule.decide(Look(t, queue(IDLE, ()), ready_device()))  # running again for a moment
        t += 5  # and stopped again within a minute
    gaps = [b - a for a, b in zip(resumed, resumed[1:])]
    assert gaps == [120, 240, 480], gaps  # 60 s doubled at each quick stop


def test_a_printed_sheet_resets_the_wait():
    rule = AutoResume(ready_for_s=1, first_wait_s=60)
    rule._wait_s = 480
    rule.printed()
    assert rule._wait_s == 60


def test_a_usb_printer_is_tried_after_the_wait_when_its_last_word_blocks():
    """CUPS runs no backend for a stopped queue, so a USB printer's last reasons stay as they
    were: the rule tries a resume after the wait (the printer says again), never sooner."""
    rule = AutoResume(ready_for_s=10, first_wait_s=60)
    stale = queue(reasons=("paused", "media-empty-error"), uri=USB)
    # still out of paper: stopped again at once after each try, the wait doubles each time
    assert run(rule, [(t, stale, None) for t in range(0, 2000)]) == [60, 181, 422, 903, 1804]


def test_a_usb_printer_without_a_blocking_reason_is_resumed_after_the_while():
    rule = AutoResume(ready_for_s=10)
    looks = [(t, queue(reasons=("paused",), uri=USB), None) for t in range(0, 20)]
    assert run(rule, looks) == [10]
