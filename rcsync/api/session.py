"""The one path every API call takes: budget -> send -> (429 | retry | error mapping).

`ApiSession.request` waits for room in the operation's rate-limit group, sends through the
injected ``httpx.Client`` (whose ``RingCentralAuth`` adds and renews the bearer token), then:

* 429: the whole group is paused for ``Retry-After`` (60 s if absent) and the request is
  resent afterwards, a bounded number of times;
* connection errors, timeouts and 500/502/503/504: retried with backoff (see `retry`), except
  that a non-idempotent write (trash DELETE) with an unknown outcome raises
  `AmbiguousWriteError` instead of being resent;
* any other non-expected status: mapped to the exception tree with a one-line message.

Every backoff is announced first through the budget's ``on_wait`` (one seam for every wait
of the API: the CLI attaches its display there), e.g. ``server unreachable, retry 3/4``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rcsync.api.errors import describe, error_from_response, malformed
from rcsync.api.ratelimit import DEFAULT_PENALTY, RateBudget, retry_after_seconds
from rcsync.api.retry import RETRYABLE_STATUS, RetryPolicy, failed_before_sending, jitter
from rcsync.errors import AmbiguousWriteError, NetworkError
from rcsync.progress import WaitReason

log = logging.getLogger("rcsync.api")


@dataclass(frozen=True)
class Operation:
    """An API operation: its spec operationId, rate-limit group, and whether resending is safe."""

    name: str
    group: str
    idempotent: bool = True


class ApiSession:
    def __init__(
        self,
        http: httpx.Client,
        *,
        budget: RateBudget | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = jitter,
        max_throttled: int = 5,
    ):
        self.http = http
        self.budget = budget or RateBudget(sleep=sleep)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._max_throttled = max_throttled

    def request(
        self,
        op: Operation,
        method: str,
        url: str,
        *,
        ok: Collection[int] = (200,),
        ids: Sequence[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send and return the answer if its status is in `ok`; raise otherwise."""
        request = self.http.build_request(method, url, **kwargs)
        response = self._send(op, request, stream=False, ids=ids)
        if response.status_code not in ok:
            raise error_from_response(op.name, response)
        return response

    @contextlib.contextmanager
    def stream(
        self,
        op: Operation,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int],
        params: httpx.QueryParams | None = None,
    ) -> Iterator[httpx.Response]:
        """GET with a streamed body; statuses outside `ok` raise (body read first)."""
        request = self.http.build_request("GET", url, headers=headers, params=params)
        response = self._send(op, request, stream=True, ids=())
        try:
            if response.status_code not in ok:
                response.read()
                raise error_from_response(op.name, response)
            yield response
        finally:
            response.close()

    def pause(self, seconds: float, detail: str) -> None:
        """Wait `seconds` between requests for a reason of the caller's (a server-side job
        still running), announced like every other wait and slept with the injected sleep
        (a test's clock, `watch`'s interruptible one)."""
        self.budget.on_wait(WaitReason.EXPORT, seconds, detail)
        self._sleep(seconds)

    @staticmethod
    def json(op: Operation, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise malformed(op.name, f"HTTP {response.status_code} body is not JSON") from None

    def _send(
        self, op: Operation, request: httpx.Request, *, stream: bool, ids: Sequence[int]
    ) -> httpx.Response:
        retries = throttled = 0
        while True:
            group = self.budget.group_for(op.name, op.group)
            try:
                with self.budget.slot(group):
                    response = self.http.send(request, stream=stream)
            except httpx.TransportError as exc:
                self._after_transport_error(op, request, exc, retries, ids)
                retries += 1
                continue
            self.budget.observe(op.name, response)
            status = response.status_code
            log.debug("%s %s -> %s", request.method, request.url.path, status)
            if status == 429:
                throttled += 1
                self._after_throttle(op, response, throttled)
            elif status in RETRYABLE_STATUS:
                self._after_server_error(op, response, retries, ids)
                retries += 1
            else:
                return response

    def _after_transport_error(
        self,
        op: Operation,
        request: httpx.Request,
        exc: httpx.TransportError,
        retries: int,
        ids: Sequence[int],
    ) -> None:
        kind = exc.__class__.__name__
        if not op.idempotent and not failed_before_sending(exc, request):
            raise AmbiguousWriteError(
                f"{op.name}: connection lost after the request was sent ({kind}); the "
                "messages may or may not have been changed, re-read them before retrying",
                ids=ids,
            ) from None
        if retries + 1 >= self.policy.attempts:
            raise NetworkError(
                f"{op.name}: cannot reach {request.url.host} ({kind}); gave up after "
                f"{retries + 1} attempts"
            ) from None
        delay = self.policy.backoff(retries, self._rand())
        log.debug("%s: %s, retrying in %.1fs", op.name, kind, delay)
        self._backoff(delay, f"server unreachable ({kind}), retry {self._nth(retries)}")

    def _after_throttle(self, op: Operation, response: httpx.Response, throttled: int) -> None:
        response.read()
        response.close()
        if throttled > self._max_throttled:
            raise error_from_response(op.name, response)
        wait = max(retry_after_seconds(response, DEFAULT_PENALTY), 1.0)
        group = response.headers.get("X-Rate-Limit-Group") or self.budget.group_for(
            op.name, op.group
        )
        # Every request sent during the penalty restarts it: block the group, then resend.
        self.budget.penalize(group, wait)

    def _after_server_error(
        self, op: Operation, response: httpx.Response, retries: int, ids: Sequence[int]
    ) -> None:
        response.read()
        response.close()
        text, code = describe(op.name, response)
        if not op.idempotent:
            raise AmbiguousWriteError(
                f"{text}; the messages may or may not have been changed, re-read them before "
                "retrying",
                ids=ids,
                status=response.status_code,
                code=code,
            )
        if retries + 1 >= self.policy.attempts:
            err = error_from_response(op.name, response)
            err.args = (f"{err} (gave up after {retries + 1} attempts)",)
            raise err
        delay = self.policy.backoff(retries, self._rand())
        if response.status_code == 503 and "Retry-After" in response.headers:
            delay = min(retry_after_seconds(response, delay), self.policy.max_retry_after)
        log.debug("%s: HTTP %s, retrying in %.1fs", op.name, response.status_code, delay)
        self._backoff(
            delay, f"server error (HTTP {response.status_code}), retry {self._nth(retries)}"
        )

    def _nth(self, retries: int) -> str:
        """``3/4``: which retry comes next, of how many the policy allows."""
        return f"{retries + 1}/{self.policy.attempts - 1}"

    def _backoff(self, delay: float, detail: str) -> None:
        self.budget.on_wait(WaitReason.RETRY, delay, detail)
        self._sleep(delay)
