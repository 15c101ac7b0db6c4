"""The main loop's timing, on a turned clock: periodic jobs, and letting go only of what was found gone twice."""

from __future__ import annotations

from snoop.agent.schedule import GoneTwice, Schedule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jobs_run_at_their_intervals_in_the_order_added() -> None:
    clock, ran = Clock(), []
    schedule = Schedule(clock)
    schedule.every(1.0, lambda: ran.append("batch"))
    schedule.every(30.0, lambda: ran.append("prune"))
    schedule.run_due()
    assert ran == []  # nothing before its first interval
    for _ in range(30):
        clock.now += 1.0
        schedule.run_due()
    assert ran.count("batch") == 30 and ran.count("prune") == 1
    assert ran[-2:] == ["batch", "prune"]  # due together: in the order added


def test_a_late_job_runs_once_and_counts_its_next_turn_from_then() -> None:
    clock, ran = Clock(), []
    schedule = Schedule(clock)
    schedule.every(1.0, lambda: ran.append(clock.now))
    clock.now += 10.0  # the loop was busy for ten intervals
    schedule.run_due()
    schedule.run_due()
    clock.now += 0.5
    schedule.run_due()
    assert ran == [1010.0]
    clock.now += 0.5
    schedule.run_due()
    assert ran == [1010.0, 1011.0]


def test_only_what_was_found_gone_twice_in_a_row_is_let_go() -> None:
    gone: GoneTwice[str] = GoneTwice()
    assert gone.confirm({"a", "b"}) == set()   # first look: their last events may still wait
    assert gone.confirm({"a", "c"}) == {"a"}   # b came back (a new look found it alive): it starts over
    assert gone.confirm({"c"}) == {"c"}
    assert gone.confirm({"a"}) == set()        # a was let go; found gone again, it is new
    assert gone.confirm(set()) == set()
