"""The account's message-store configuration: ``GET|PUT …/account/~/message-store-configuration``.

As the spec has it (``readMessageStoreConfiguration`` / ``updateMessageStoreConfiguration``,
Light group, user permission ``AccountAdministration``): a body ``MessageStoreConfiguration``
with ``retentionPeriod``, an integer of 7..90 days, which "is supported for Fax and
Voicemail messages only. SMS messages are stored with no time limits". A plain user gets
the 403 ``CMN-408`` naming the permission. The emulator keeps the setting only: messages
are dropped by the control API (``POST /_emulator/retention``), not by this value.
RingCentral documents no default; the emulator's is 90 days, the most RingCentral keeps
("We retain data for up to 90 days").
"""

from __future__ import annotations

import threading
from typing import Any

from .wire import Request, Response, api_error, json_response

MIN_DAYS, MAX_DAYS = 7, 90
DEFAULT_DAYS = 90
PERMISSION = "AccountAdministration"


class StoreConfiguration:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retention_period = DEFAULT_DAYS

    def set_retention(self, value: Any) -> None:
        """Control API / `Emulator.configure(retention_period=)`: ValueError when invalid."""
        check_retention(value)
        with self._lock:
            self.retention_period = int(value)

    def read(self) -> Response:
        with self._lock:
            return json_response(200, {"retentionPeriod": self.retention_period})

    def update(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return api_error(400, "CMN-101", "Parameter [body] is invalid", "body")
        value: Any = body.get("retentionPeriod") if isinstance(body, dict) else None
        if not _valid(value):
            return api_error(
                400, "CMN-101", "Parameter [retentionPeriod] value is invalid", "retentionPeriod"
            )
        with self._lock:
            self.retention_period = int(value)
        return self.read()


def check_retention(value: Any) -> None:
    if not _valid(value):
        raise ValueError(f"retention_period must be an integer {MIN_DAYS}..{MAX_DAYS}")


def _valid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_DAYS <= value <= MAX_DAYS
