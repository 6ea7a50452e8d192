"""Account archive (issue 12): one admin login mirrors many extensions under one budget.

An emulator of EXTENSIONS user extensions x MESSAGES messages each, with RingCentral's
default rate limits (Light 50/min, Medium 40/min, one budget per user and app shared by
every extension) on a simulated clock: the client's `RateBudget` sleeps by advancing it, so
the figure "simulated time" is what the limits would make the pull take, while the wall
time is only the work. Printed:

* first account pull: requests sent vs the minimum the pull must make (per extension one
  FSync, ceil(listed/1000) listing pages and one ISync; plus the extension list and the
  login's readExtension), 429s (goal 0), simulated and wall time;
* an idle incremental round: requests (goal: one ISync per extension; the login and the
  extension list read by the first pull serve it, `rcsync.rules.extensions.cached_selection`);
* the round after the list is due again (an hour later, or watch's extension-list event):
  the ISyncs plus readExtension and listExtensions, for comparison.

    python benchmarks/account.py [EXTENSIONS] [MESSAGES]      default 50 2000
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

from common import account_config, simulated_client

from rcsync.emulator import Emulator, FakeClock
from rcsync.store.database import open_database
from rcsync.sync.account import pull_account, reread_extensions


def _api_requests(by_operation: dict[str, int]) -> int:
    return sum(n for op, n in by_operation.items() if op not in ("getToken", "revokeToken"))


def main(extensions: int, messages: int) -> None:
    clock = FakeClock()
    built = time.perf_counter()
    emu = Emulator(messages=messages, seed=1, extensions=extensions, clock=clock)
    built = time.perf_counter() - built
    # The listing asks for every availability (a purged message is news too), so each
    # extension's listing covers all its records.
    listed = {e.id: len(list(e.store.all_records())) for e in emu.account}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = account_config(tmp)
        engine = open_database(config.database.path)
        client = simulated_client(emu, clock, config.ringcentral)
        started, wall = clock.now(), time.perf_counter()
        summary = pull_account(engine, client, config)
        simulated, wall = clock.now() - started, time.perf_counter() - wall
        first = dict(emu.counters.by_operation)
        status = dict(emu.counters.status)
        # The floor: per extension one FSync, ceil(n/1000) listings and one ISync,
        # plus the extension list and the login's readExtension. (Since issue 17 the first
        # pull streams one FSync and lists only what it cannot carry: a count and a pass.)
        minimum = sum(2 + math.ceil(n / 1000) for n in listed.values()) + 2
        sent = _api_requests(first)
        print(f"account: {extensions} extensions x {messages:,} messages (built in {built:.1f} s)")
        print(f"first pull: {summary.messages:,} messages stored")
        print(
            f"  requests sent {sent:,}, minimum {minimum:,} (ratio {sent / minimum:.2f});"
            f" by operation {first}"
        )
        print(f"  429s {status.get('429', 0)}")
        print(f"  simulated time {simulated / 60:.1f} min, wall {wall:.1f} s")
        emu.counters.reset()
        started = clock.now()
        pull_account(engine, client, config)
        _idle_line("idle round", emu, extensions, clock.now() - started)
        # The baseline, measured in the same run: the round that reads both again.
        reread_extensions(engine)
        emu.counters.reset()
        started = clock.now()
        pull_account(engine, client, config)
        _idle_line("round re-reading login + list", emu, extensions, clock.now() - started)
        engine.dispose()


def _idle_line(what: str, emu: Emulator, extensions: int, simulated: float) -> None:
    ops = dict(emu.counters.by_operation)
    sent = _api_requests(ops)
    isync = ops.get("syncMessages", 0)
    print(
        f"{what}: requests {sent:,} ({isync} ISync for {extensions} extensions, + {sent - isync}"
        f" for the login and the extension list; {sent / extensions:.2f} per extension),"
        f" simulated {simulated:.0f} s, 429s {emu.counters.status.get('429', 0)}"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [50, 2000][len(args) :]))
