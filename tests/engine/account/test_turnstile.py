"""The account pull's `Turnstile` under contention: when every extension is waiting to send
a request, they go strictly in turn (the rule itself is tests/rules/test_interleave.py)."""

from __future__ import annotations

import threading
import time

from rcsync.sync.account import Turnstile

KEYS = ["a", "b", "c"]
TURNS = 4


def _wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_waiting_participants_go_in_turn_and_none_twice_in_a_row() -> None:
    gate = Turnstile(KEYS)
    done = {k: 0 for k in KEYS}

    def others_waiting(me: str) -> bool:
        active = [k for k in KEYS if k != me and done[k] < TURNS]
        with gate._cond:  # test-only peek: who is queued at the gate
            return set(active) <= gate._waiting

    def worker(key: str) -> None:
        for _ in range(TURNS):
            with gate.turn(key):
                # Inside its turn, hold on until everyone else still working is queued:
                # every decision is then made with all of them waiting.
                _wait_until(lambda key=key: others_waiting(key), f"the others than {key}")
                done[key] += 1
        gate.leave(key)

    # Started in reverse order: the gate still opens only once all three wait, in order.
    threads = [threading.Thread(target=worker, args=(k,)) for k in reversed(KEYS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert gate.served == KEYS * TURNS


def test_a_participant_that_leaves_is_not_waited_for() -> None:
    gate = Turnstile(["a", "b"])
    gate.leave("b")  # failed before its first request
    with gate.turn("a"):
        pass
    assert gate.served == ["a"]
