"""OAuth for RingCentral as an ``httpx.Auth``: bearer tokens that look after themselves.

Before each request the current access token is taken from memory or the token file. If it
expires within `REFRESH_MARGIN`, it is refreshed first (``grant_type=refresh_token``); with no
usable token and a JWT (or legacy password) configured, rcsync logs in by itself. Refresh
tokens are single-use, so the new pair is saved to disk *before* it is used, under the token
file's cross-process lock, after re-reading the file (another process may have refreshed
already: then its pair is used and no refresh is spent). A 401 from the API (expired or
revoked access token) triggers one renewal and one retry of the request.

Token requests are in RingCentral's Auth rate-limit group (5/min), so they go through the
shared `RateBudget` and are never made per request. Secrets (client secret, JWT, password,
tokens) never appear in messages or logs; token request bodies are not logged at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from rcsync.api import oauth
from rcsync.api.errors import LOGIN_HINT
from rcsync.api.ratelimit import Group, RateBudget, retry_after_seconds
from rcsync.api.retry import RETRYABLE_STATUS, RetryPolicy, jitter
from rcsync.api.tokens import REFRESH_MARGIN, TokenInfo, TokenStore
from rcsync.config import RingCentralConfig
from rcsync.errors import AuthError, NetworkError
from rcsync.progress import WaitReason

log = logging.getLogger("rcsync.api")

Flow = Generator[httpx.Request, httpx.Response, TokenInfo]


@dataclass(frozen=True, repr=False)
class Credentials:
    """App credentials plus what the user logs in with (JWT preferred, password legacy)."""

    client_id: str
    client_secret: str = ""
    jwt: str = ""
    username: str = ""
    extension: str = ""
    password: str = ""

    @classmethod
    def from_config(cls, cfg: RingCentralConfig) -> Credentials:
        return cls(
            cfg.client_id, cfg.client_secret, cfg.jwt, cfg.username, cfg.extension, cfg.password
        )

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, grant={self.grant_name!r})"

    @property
    def can_login(self) -> bool:
        return bool(self.jwt or (self.username and self.password))

    @property
    def grant_name(self) -> str:
        return "JWT" if self.jwt else "password" if self.can_login else "none"

    def login_form(self) -> dict[str, str]:
        if self.jwt:
            return {"grant_type": oauth.JWT_GRANT, "assertion": self.jwt}
        if not self.can_login:
            raise AuthError(
                "cannot log in: no JWT configured (set [ringcentral] jwt in the config file "
                "or RCSYNC_JWT)"
            )
        form = {"grant_type": "password", "username": self.username, "password": self.password}
        if self.extension:
            form["extension"] = self.extension
        return form

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.jwt, self.password) if s)


class RingCentralAuth(httpx.Auth):
    """Bearer auth that logs in, refreshes ahead of expiry and renews once on a 401."""

    def __init__(
        self,
        credentials: Credentials,
        store: TokenStore,
        *,
        server: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        budget: RateBudget | None = None,
        margin: float = REFRESH_MARGIN,
        policy: RetryPolicy | None = None,
    ):
        self.credentials = credentials
        self.store = store
        self.server = server.rstrip("/")
        self._clock = clock
        self._sleep = sleep
        self._budget = budget
        self._margin = margin
        self._policy = policy or RetryPolicy(attempts=3)
        self._tokens: TokenInfo | None = None
        self._lock = threading.Lock()

    # --- httpx.Auth --------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        oauth.check_trusted_host(self.server, request.url)
        tokens = yield from self._current()
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        response = yield request
        if response.status_code != 401:
            return
        response.read()
        log.debug(
            "401 from %s %s: renewing the access token once", request.method, request.url.path
        )
        tokens = yield from self._current(stale=tokens.access_token)
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        yield request

    # --- explicit login (the `rcsync login` command) ------------------------------------

    def login(self, http: httpx.Client) -> TokenInfo:
        """Log in with the configured JWT/password now, store and return the new pair."""
        form = self.credentials.login_form()
        with self._lock, self.store.locked():
            what = f"login ({self.credentials.grant_name})"
            tokens = self._drive(http, self._exchange(form, what))
            self.store.save(tokens)
            self._tokens = tokens
        return tokens

    def _drive(self, http: httpx.Client, flow: Flow) -> TokenInfo:
        """Run a token flow outside an auth flow (plain sends, no bearer)."""
        try:
            request = next(flow)
            while True:
                try:
                    response = http.send(request, auth=None)
                except httpx.TransportError as exc:
                    raise NetworkError(
                        f"cannot reach {self.server}: {exc.__class__.__name__}"
                    ) from None
                request = flow.send(response)
        except StopIteration as stop:
            tokens: TokenInfo = stop.value
            return tokens
        finally:
            flow.close()

    def owner_id(self) -> str | None:
        """The extension the current token pair was issued to (RingCentral's ``owner_id``),
        from memory or the token file; no request. None: not logged in yet, or unknown."""
        tokens = self._tokens or self._load()
        return None if tokens is None else tokens.owner_id

    # --- token life cycle ----------------------------------------------------------------

    def _load(self) -> TokenInfo | None:
        tokens = self.store.load()
        if tokens is None or not tokens.matches(self.server, self.credentials.client_id):
            return None  # issued to another app/server: useless here
        return tokens

    def _current(self, stale: str | None = None) -> Flow:
        """A usable pair; `stale` is an access token the server just rejected."""
        with self._lock:
            tokens = self._tokens or self._load()
            if (
                tokens
                and tokens.access_token != stale
                and tokens.access_fresh(self._clock(), self._margin)
            ):
                self._tokens = tokens
                return tokens
            return (yield from self._renew(tokens, stale))

    def _renew(self, tokens: TokenInfo | None, stale: str | None) -> Flow:
        with self.store.locked():
            # Re-read under the lock: another process may have refreshed meanwhile.
            disk = self._load()
            known = {stale, tokens.access_token if tokens else None}
            if (
                disk
                and disk.access_token not in known
                and disk.access_fresh(self._clock(), self._margin)
            ):
                log.debug("using the token pair another rcsync process just refreshed")
                self._tokens = disk
                return disk
            new = yield from self._obtain(disk or tokens)
            self.store.save(new)  # before use: the old refresh token is spent now
            self._tokens = new
            return new

    def _obtain(self, tokens: TokenInfo | None) -> Flow:
        creds = self.credentials
        if not creds.client_id:
            raise AuthError(
                "no client_id configured: set [ringcentral] client_id or RCSYNC_CLIENT_ID"
            )
        if tokens and tokens.refresh_token and tokens.can_refresh(self._clock()):
            form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
            try:
                return (yield from self._exchange(form, "token refresh"))
            except AuthError as exc:
                if not creds.can_login:
                    raise AuthError(
                        f"session expired or revoked ({exc.code or 'rejected'}): {LOGIN_HINT}",
                        status=exc.status,
                        code=exc.code,
                    ) from None
                log.info("token refresh rejected (%s); logging in again", exc.code)
        elif not creds.can_login:
            what = "not logged in" if tokens is None else "session expired"
            raise AuthError(f"{what}: {LOGIN_HINT}")
        return (yield from self._exchange(creds.login_form(), f"login ({creds.grant_name})"))

    def _exchange(self, form: dict[str, str], what: str) -> Flow:
        """POST /restapi/oauth/token, honouring the Auth budget, 429 and 5xx (bounded)."""
        attempts = self._policy.attempts
        for attempt in range(attempts):
            request = oauth.token_request(self.server, self.credentials, form)
            response = yield from self._send_counted(request)
            status = response.status_code
            log.debug("POST %s (%s) -> %s", oauth.TOKEN_PATH, what, status)
            if status == 429 and attempt + 1 < attempts:
                self._pause_auth(response)
            elif status in RETRYABLE_STATUS and attempt + 1 < attempts:
                delay = self._policy.backoff(attempt, jitter())
                if self._budget is not None:  # the one seam every API wait is told through
                    retry = f"retry {attempt + 1}/{attempts - 1}"
                    detail = f"token server error (HTTP {status}), {retry}"
                    self._budget.on_wait(WaitReason.RETRY, delay, detail)
                self._sleep(delay)
            else:
                return oauth.parse_token_response(
                    response,
                    what=what,
                    credentials=self.credentials,
                    server=self.server,
                    now=self._clock(),
                    form=form,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_counted(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, httpx.Response]:
        if self._budget is None:
            response = yield request
        else:
            with self._budget.slot(self._budget.group_for("getToken", Group.AUTH)):
                response = yield request
            self._budget.observe("getToken", response)
        response.read()
        return response

    def _pause_auth(self, response: httpx.Response) -> None:
        wait = max(retry_after_seconds(response, 60.0), 1.0)
        if self._budget is not None:
            self._budget.penalize(self._budget.group_for("getToken", Group.AUTH), wait)
        else:
            self._sleep(wait)


def login(
    http: httpx.Client,
    cfg: RingCentralConfig,
    store: TokenStore,
    *,
    clock: Callable[[], float] = time.time,
    budget: RateBudget | None = None,
) -> TokenInfo:
    """Log in with the configured JWT (or password) and store the token pair."""
    auth = RingCentralAuth(
        Credentials.from_config(cfg), store, server=cfg.server, clock=clock, budget=budget
    )
    return auth.login(http)


def logout(http: httpx.Client, cfg: RingCentralConfig, store: TokenStore) -> bool:
    """Revoke the session and forget the tokens. True if the server confirmed the revocation.

    RingCentral's docs: on a revoke error the client should ignore it and not retry. The local
    file is removed whatever happens.
    """
    tokens = store.load()
    try:
        if tokens is None:
            return False
        request = oauth.revoke_request(cfg.server, Credentials.from_config(cfg), tokens)
        try:
            response = http.send(request, auth=None)
        except httpx.HTTPError as exc:
            log.debug("revoke failed (%s); ignored", exc.__class__.__name__)
            return False
        log.debug("POST %s -> %s", oauth.REVOKE_PATH, response.status_code)
        return response.is_success
    finally:
        store.clear()
