"""Targeted faults (``/_emulator/faults``): what the next N requests of one operation suffer.

Random faults (`app.Faults`) test that a client survives noise; targeted ones let a test
reproduce one precise failure: "the next bulk PATCH answers 404", "the next DELETE is
applied and then its answer is lost". A rule names a spec ``operationId`` and either

- an *answer* (``status`` and optional ``body``/``headers``): the request is not processed,
  that answer is sent instead (``body`` defaults to RingCentral's error body for the status);
- an *after-write* fault (``after_write``: ``reset`` or ``delay``): the request IS
  processed, then the answer is dropped mid-response (``reset``) or held back ``delay_ms``
  (``delay``), as a broken or slow network does.

Rules for one operation are consumed in the order they were added, one use per request;
a rule whose ``times`` reach 0 is gone. The book has its own lock: HTTP threads share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .routes import _TABLE
from .wire import Response, error_body, json_response

# Every operationId the emulator routes (the spec's names), so a typo is refused, not ignored.
OPERATIONS: frozenset[str] = frozenset(operation for _, _, operation, _ in _TABLE)
MAX_DELAY_MS = 600_000
DEFAULT_DELAY_MS = 3_000

# RingCentral's answer for each status when a rule gives no body (API-NOTES §5 codes); a 404
# is the one the gateway gives for an unknown path: it names no message.
_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("CMN-101", "Parameter [path] value is invalid.", "path"),
    401: ("CMN-405", "Login to extension required.", None),
    403: ("CMN-401", "Specific application permission required", None),
    404: ("CMN-102", "Resource for parameter [path] is not found", "path"),
    405: ("CMN-202", "Operation is not supported", None),
    429: ("CMN-301", "Request rate exceeded", None),
    500: ("CMN-203", "Internal Server Error", None),
    501: ("CMN-202", "Operation is not supported", None),
    503: ("CMN-201", "Service Temporary Unavailable", None),
}


class AfterWrite(StrEnum):
    RESET = "reset"
    DELAY = "delay"


class FaultSpecError(ValueError):
    """A rule the control API refuses (answered 400 with this message)."""


@dataclass
class Rule:
    id: int
    operation: str
    times: int
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after_write: AfterWrite | None = None
    delay_ms: int = 0

    def answer(self) -> Response:
        """The response an answer rule sends instead of processing the request."""
        assert self.status is not None
        headers = list(self.headers.items())
        if self.body is not None:
            return json_response(self.status, self.body, headers)
        if self.status < 300:
            return Response(self.status, b"", headers)
        code, message, parameter = _DEFAULT_ERRORS.get(
            self.status, _DEFAULT_ERRORS[500 if self.status >= 500 else 400]
        )
        return json_response(self.status, error_body(code, message, parameter), headers)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "operation": self.operation, "times": self.times}
        if self.after_write is None:
            out.update(status=self.status, body=self.body, headers=self.headers)
        else:
            out["after_write"] = self.after_write.value
            if self.after_write is AfterWrite.DELAY:
                out["delay_ms"] = self.delay_ms
        return out


class FaultBook:
    """The active targeted fault rules."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Rule:
        """Validate `spec` (the JSON of ``POST /_emulator/faults``) and activate it."""
        with self._lock:
            rule = parse_rule(spec, self._next_id)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def take(self, operation: str) -> Rule | None:
        """The rule that applies to this request of `operation` (one use of it), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.operation == operation:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    return rule
            return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def clear(self) -> int:
        with self._lock:
            removed = len(self._rules)
            self._rules.clear()
            return removed


def parse_rule(spec: Any, rule_id: int) -> Rule:
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault rule is a JSON object")
    unknown = set(spec) - {"operation", "status", "body", "headers", "times", "after_write",
                           "delay_ms"}  # fmt: skip
    if unknown:
        raise FaultSpecError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    operation = spec.get("operation")
    if operation not in OPERATIONS:
        raise FaultSpecError(
            f"unknown operation {operation!r}; one of: {', '.join(sorted(OPERATIONS))}"
        )
    rule = Rule(rule_id, operation, _integer(spec, "times", 1, 1, 1_000_000))
    if ("status" in spec) == ("after_write" in spec):
        raise FaultSpecError('a fault rule has either "status" or "after_write", not both')
    if "status" in spec:
        rule.status = _integer(spec, "status", None, 200, 599)
        rule.body = spec.get("body")
        rule.headers = _headers(spec.get("headers", {}))
    else:
        rule.after_write = _after_write(spec["after_write"])
        if rule.after_write is AfterWrite.DELAY:
            rule.delay_ms = _integer(spec, "delay_ms", DEFAULT_DELAY_MS, 0, MAX_DELAY_MS)
    return rule


def _integer(spec: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int:
    value = spec.get(name, default)
    # bool is an int in Python; `true` as a status or count is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise FaultSpecError(f'"{name}" must be an integer from {low} to {high}, not {value!r}')
    return value


def _after_write(value: Any) -> AfterWrite:
    try:
        return AfterWrite(value)
    except ValueError:
        choices = " or ".join(repr(a.value) for a in AfterWrite)
        raise FaultSpecError(f'"after_write" must be {choices}, not {value!r}') from None


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise FaultSpecError('"headers" must be an object of strings')
    return dict(value)
