"""rcsync.emulator: an in-memory RingCentral message store with RingCentral's REST API.

Faithful to ``rc-public-openapi.yml`` for the operations it serves (token/revoke, extension
info and list, list/get/put/patch/delete messages, delete by filter, attachment content, message
sync), with RingCentral's auth rules, rate limits, error bodies and batch formats, plus a
control API for tests (see `control`). Use it in-process::

    emu = Emulator(messages=1000, seed=1)
    client = httpx.Client(transport=emu.transport(), base_url="https://platform.ringcentral.com")

or over real HTTP on loopback::

    with serve(emu) as server:
        print(server.url)

Module map: `clock` (time), `data` (seeded history), `media` (attachment bytes), `records`
(JSON rendering), `store` (state, transitions, change log, change listeners), `account`
(the extensions, one store each), `sync` (FSync/ISync tokens), `auth`, `ratelimit`,
`routes`, `reading`/`writing`/`content`/`extensions` (operations), `store_config` (the
account's message-store configuration), `bulk` (207 formats),
`targeted` (fault rules), `app` (composition), `control`, `transport` (httpx), `server`
(HTTP/1.1 over h11).
"""

from __future__ import annotations

from .app import Counters, Emulator, Faults
from .clock import Clock, FakeClock, SystemClock
from .server import RunningServer, run_forever, serve

__all__ = [
    "Clock",
    "Counters",
    "Emulator",
    "FakeClock",
    "Faults",
    "RunningServer",
    "SystemClock",
    "run_forever",
    "serve",
]
