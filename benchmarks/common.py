"""What the benchmark scripts share: the emulator's login and its rate limits switched off.

Run a benchmark as ``python benchmarks/NAME.py``; its folder is then on ``sys.path``, so
``from common import …`` finds this module.
"""

from __future__ import annotations

from rcsync.emulator.auth import CLIENT_ID, CLIENT_SECRET, JWT_ASSERTION

#: Keyword arguments of `RingCentralConfig` that log in to the emulator as its admin.
EMULATOR_LOGIN = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "jwt": JWT_ASSERTION}

#: The emulator's ``rate_limits`` per group, high enough never to throttle (figures taken
#: with them say so).
UNLIMITED = {"Light": 1_000_000, "Medium": 1_000_000, "Heavy": 1_000_000, "Auth": 1_000_000}
