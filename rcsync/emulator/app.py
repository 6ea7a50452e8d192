"""The emulator: one object composing store, auth, rate limits, sync and faults behind
a transport-agnostic ``handle(Request) -> Response``.

Order of checks for an API request, as a real gateway would: route (404/405) → count the
operation → authenticate (401) → rate limit (429, headers on every answer) → faults
(latency; ``error_rate`` answers 500/503 *before* any change; a targeted answer rule of
`targeted` replaces the operation) → the operation → ``reset_rate`` or a targeted
after-write rule (the change is applied, then the connection drops or the answer is held
back: the client cannot tell whether its write happened, as in reality). The control API
(``/_emulator/…``) bypasses all of that and is not counted.

An account (`account`) holds ``extensions`` users; ``store``, ``sync`` and ``world`` are
extension 101's (the admin, the login of ``emulator-jwt``). A path's ``{extensionId}`` is
resolved after authentication: ``~`` is the login, an unknown or deleted id is 404
``CMN-102``, and a plain user reaching another extension's messages is 403 ``CMN-408``
naming the spec's user permission (``ReadMessages`` / ``EditMessages``; ``CMN-404`` with
``permission_error_code``); extension info and
the extension list are open to every user (the company directory). Rate limits count per
app and login, so every extension an admin reaches draws on one budget, as RingCentral's do.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from . import extensions, reading, store_config, writing
from .account import Account, Extension, ExtensionStatus, ExtensionType
from .auth import CLIENT_ID, USER_JWT_ASSERTION, Auth, AuthFailure, Session
from .clock import Clock, SystemClock
from .content import read_content
from .ratelimit import RateLimiter
from .reports import ReportService
from .routes import Route, method_not_allowed, resolve
from .store import Listener
from .sync import choice as _choice
from .targeted import AfterWrite, FaultBook, Rule
from .wire import (
    ApiFailure,
    Request,
    Response,
    api_error,
    error_body,
    json_response,
    oauth_error,
)

_BEARER_CODES = {"OAU-128": "TokenExpired", "OAU-213": "TokenInvalid"}
_USER_NUMBER = "102"  # the plain user emulator-user-jwt logs in as
#: The user permission (spec ``x-user-permission``) each message operation needs over the
#: extension it names; readExtension/listExtensions need ReadExtensions, which every user has.
_MESSAGE_PERMISSION = {
    "listMessages": "ReadMessages",
    "readMessage": "ReadMessages",
    "readMessageContent": "ReadMessages",
    "syncMessages": "ReadMessages",
    "updateMessage": "EditMessages",
    "patchMessage": "EditMessages",
    "deleteMessage": "EditMessages",
    "deleteMessageByFilter": "EditMessages",
}


class PermissionErrorCode(StrEnum):
    """The 403 a plain user reaching another extension's messages gets. RingCentral's error
    table has both: ``CMN-408`` "[perm] permission required" (default; the body names the
    spec's user permission in ``permissionName``) and ``CMN-404`` "Attempt to access another
    extension"; a client must read either as "this login may not reach that extension"."""

    CMN_408 = "CMN-408"
    CMN_404 = "CMN-404"


@dataclass
class Faults:
    error_rate: float = 0.0
    reset_rate: float = 0.0
    latency_ms: float = 0.0


@dataclass
class Counters:
    """Requests per operationId and per status (API requests only)."""

    total: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_operation": dict(self.by_operation),
            "status": dict(self.status),
        }

    def reset(self) -> None:
        self.total = 0
        self.by_operation.clear()
        self.status.clear()


class Emulator:
    """An in-memory RingCentral message store with RingCentral's HTTP API in front."""

    def __init__(
        self,
        messages: int = 1000,
        seed: int = 1,
        rate_limits: bool = True,
        clock: Clock | None = None,
        base_url: str = "https://platform.ringcentral.com",
        extensions: int = 1,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.seed = seed
        self.account = Account(seed, self.clock, base_url, messages, extensions)
        admin = self.account.admin
        self.world = admin.store.world
        self.store = admin.store
        self.sync = admin.sync
        self.auth = Auth(self.clock, admin.profile.extension_id)
        self._grant_user_jwt()
        self.limiter = RateLimiter(self.clock, enabled=rate_limits)
        self.permission_error_code = PermissionErrorCode.CMN_408
        self.faults = Faults()
        self.fault_rules = FaultBook()
        self.counters = Counters()
        self._rng = random.Random(f"faults-{seed}")
        self.reports = ReportService(self)
        self.store_configuration = store_config.StoreConfiguration()
        self._lock = threading.RLock()
        from .gateway import Gateway  # imported here: gateway → server → app

        self.gateway = Gateway(self)

    @property
    def base_url(self) -> str:
        return self.store.renderer.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.account.set_base_url(value)

    # -- the account --------------------------------------------------------------------------

    def add_listener(self, callback: Listener) -> None:
        """Hear every change of every extension's store (see `store`)."""
        self.store.add_listener(callback)

    def add_extensions(
        self,
        count: int = 1,
        messages: int | None = None,
        type: ExtensionType = ExtensionType.USER,
        status: ExtensionStatus = ExtensionStatus.ENABLED,
    ) -> list[Extension]:
        """New users (numbers after the last), each with `messages` of history (default:
        as many as every extension got at the start)."""
        with self._lock:
            added = self.account.add(count, messages, type, status)
            self._grant_user_jwt()
            return added

    def delete_extension(self, extension_id: int) -> Extension:
        """Delete a user with their messages; their tokens stop working (KeyError: unknown)."""
        with self._lock:
            removed = self.account.remove(extension_id)
            self.auth.forget_owner(removed.profile.extension_id)
            return removed

    def _grant_user_jwt(self) -> None:
        user = self.account.by_number(_USER_NUMBER)
        if user is not None and USER_JWT_ASSERTION not in self.auth.assertions:
            self.auth.assertions[USER_JWT_ASSERTION] = user.profile.extension_id

    def configure(
        self,
        *,
        rate_limits: bool | dict[str, Any] | None = None,
        faults: dict[str, float] | None = None,
        access_token_ttl: int | None = None,
        permission_error_code: str | None = None,
        export: dict[str, Any] | None = None,
        websocket: dict[str, Any] | None = None,
        retention_period: int | None = None,
        **sync_options: Any,
    ) -> dict[str, Any]:
        """Change behaviour at run time (same as ``PUT /_emulator/config``); returns the config.

        ``rate_limits``: true/false, or ``{"enabled", "window", "penalty", "limits": {group: n}}``.
        ``permission_error_code``: ``CMN-408`` (default) or ``CMN-404``, the 403 a plain user
        reaching another extension's messages gets (see `PermissionErrorCode`).
        ``sync_options``: ``invalid_sync_token_code``, ``sync_frame``, ``isync_max_records``
        (see `sync`); checked before anything else changes. ``export``: the message-store
        export's timing, zip size and masking (see `reports`).
        ``websocket``: the gateway's limits and timeouts (see `gateway_protocol.Limits`).
        ``retention_period``: the account's message-store ``retentionPeriod`` (7..90 days,
        see `store_config`).
        """
        with self._lock:
            if retention_period is not None:
                store_config.check_retention(retention_period)  # before anything changes
            permission = self.permission_error_code
            if permission_error_code is not None:
                permission = _choice(
                    PermissionErrorCode, "permission_error_code", permission_error_code
                )
            self.sync.configure(**sync_options)
            if export is not None:
                self.reports.configure(export)
            if websocket is not None:
                if not isinstance(websocket, dict):
                    raise ValueError("websocket must be an object")
                self.gateway.configure(websocket)
            if retention_period is not None:
                self.store_configuration.set_retention(retention_period)
            self.permission_error_code = permission
            if isinstance(rate_limits, bool):
                self.limiter.configure(enabled=rate_limits)
            elif isinstance(rate_limits, dict):
                self.limiter.configure(
                    enabled=rate_limits.get("enabled"),
                    window=rate_limits.get("window"),
                    penalty=rate_limits.get("penalty"),
                    limits=rate_limits.get("limits"),
                )
            for name, value in (faults or {}).items():
                if name not in ("error_rate", "reset_rate", "latency_ms"):
                    raise ValueError(f"unknown fault {name!r}")
                setattr(self.faults, name, float(value))
            if access_token_ttl is not None:
                self.auth.access_ttl = int(access_token_ttl)
            return self.config()

    def config(self) -> dict[str, Any]:
        limiter = self.limiter
        return {
            "rate_limits": {
                "enabled": limiter.enabled,
                "window": limiter.window,
                "penalty": limiter.penalty,
                "limits": dict(limiter.limits),
            },
            "faults": {
                "error_rate": self.faults.error_rate,
                "reset_rate": self.faults.reset_rate,
                "latency_ms": self.faults.latency_ms,
            },
            "access_token_ttl": self.auth.access_ttl,
            "permission_error_code": self.permission_error_code.value,
            "export": self.reports.config.describe(),
            "websocket": self.gateway.limits.describe(),
            "retention_period": self.store_configuration.retention_period,
            **self.sync.config(),
        }

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport serving this emulator in-process (control API included)."""
        from .transport import EmulatorTransport

        return EmulatorTransport(self)

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator"):
            from .control import handle_control

            return handle_control(self, request)
        route = resolve(request.method, request.path)
        if not isinstance(route, Route):
            response = (
                method_not_allowed(request.path)
                if route is False
                else (
                    api_error(404, "CMN-102", "Resource for parameter [path] is not found", "path")
                )
            )
            return self._count(response)
        with self._lock:
            self.counters.by_operation[route.operation] += 1
            refused, verdict_headers, target = self._guarded(route, request)
        response = refused if refused is not None else self._serve(route, request, target)
        response.headers.extend(verdict_headers)
        return self._count(response)

    def _serve(self, route: Route, request: Request, target: Extension | None) -> Response:
        """A request that passed auth and rate limits: faults around the operation."""
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        rule = self.fault_rules.take(route.operation)
        if rule is not None and rule.after_write is None:
            return rule.answer()
        with self._lock:
            response = self._perform(route, request, target)
            if self.faults.reset_rate and self._rng.random() < self.faults.reset_rate:
                response.reset = True
        if rule is not None:
            self._after_write(rule, response)
        return response

    @staticmethod
    def _after_write(rule: Rule, response: Response) -> None:
        if rule.after_write is AfterWrite.RESET:
            response.reset = True
        else:
            # Outside the lock: a slow answer must not hold up other clients' requests.
            time.sleep(rule.delay_ms / 1000)

    def _count(self, response: Response) -> Response:
        with self._lock:
            self.counters.total += 1
            self.counters.status[str(response.status)] += 1
        return response

    def _guarded(
        self, route: Route, request: Request
    ) -> tuple[Response | None, list[tuple[str, str]], Extension | None]:
        """Auth, the path's extension, rate limit and error faults: (error response or None,
        rate-limit headers, the extension the path names or None for account-wide ones)."""
        target: Extension | None = None
        if route.group == "Auth" and route.operation != "authWsToken":
            key = f"client:{Auth.client_of(request.headers.get('authorization')) or '-'}"
        else:
            try:
                session = self.auth.check_bearer(
                    request.headers.get("authorization"), request.one("access_token")
                )
            except AuthFailure as failure:
                return _bearer_error(failure), [], None
            resolved = self._target(route, session)
            if isinstance(resolved, Response):
                return resolved, [], None
            target = resolved
            # wstoken is bearer-authenticated but counts in the Auth group with token refresh.
            key = (
                f"client:{CLIENT_ID}"
                if route.group == "Auth"
                else f"user:{CLIENT_ID}:{session.owner_id}"
            )
        verdict = self.limiter.check(key, route.group)
        if not verdict.allowed:
            return api_error(429, "CMN-301", "Request rate exceeded"), verdict.headers(), None
        if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
            if self._rng.random() < 0.5:
                unavailable = api_error(503, "CMN-201", "Service Temporary Unavailable")
            else:
                unavailable = api_error(500, "CMN-203", "Internal Server Error")
            return unavailable, verdict.headers(), None
        return None, verdict.headers(), target

    def _target(self, route: Route, session: Session) -> Extension | Response | None:
        """The extension a path names (None: an account-wide path), or the error answer."""
        login = self.account.get(int(session.owner_id))
        if login is None:  # its sessions die with it; a race with a delete ends here
            return _bearer_error(AuthFailure(401, "invalid_request", "OAU-213", "Token not found"))
        if route.params.get("account", "~") not in ("~", login.profile.account_id):
            return _extension_not_found()
        raw = route.params.get("extension")
        if raw is None:
            return None
        if raw == "~":
            return login
        target = self.account.get(int(raw)) if raw.isascii() and raw.isdigit() else None
        if target is None or str(target.id) != raw:
            return _extension_not_found()
        permission = _MESSAGE_PERMISSION.get(route.operation)
        if permission is not None and not self.account.may_reach(login, target):
            if self.permission_error_code is PermissionErrorCode.CMN_404:
                return api_error(403, "CMN-404", "Attempt to access another extension")
            return _permission_required(permission)
        return target

    def _perform(self, route: Route, request: Request, target: Extension | None) -> Response:
        ext = target or self.account.admin
        store, ids = ext.store, route.params.get("ids", "")
        try:
            match route.operation:
                case "getToken":
                    return self._token(request)
                case "revokeToken":
                    self.auth.check_client(request.headers.get("authorization"))
                    self.auth.revoke(request.form().get("token") or request.one("token") or "")
                    return Response(200)
                case "authWsToken":
                    return self.gateway.issue_token(
                        self.auth.check_bearer(
                            request.headers.get("authorization"), request.one("access_token")
                        )
                    )
                case "readExtension":
                    return extensions.read_extension(self.account, ext)
                case "listExtensions":
                    return extensions.list_extensions(request, self.account)
                case "listMessages":
                    return reading.list_messages(request, store)
                case "readMessage":
                    return reading.read_message(request, store, ids)
                case "syncMessages":
                    return reading.sync_messages(request, store, ext.sync)
                case "updateMessage" | "patchMessage":
                    return writing.update_message(
                        request, store, ids, patch=route.operation == "patchMessage"
                    )
                case "deleteMessage":
                    return writing.delete_message(request, store, ids)
                case "deleteMessageByFilter":
                    return writing.delete_by_filter(request, store)
                case "readMessageStoreConfiguration" | "updateMessageStoreConfiguration":
                    return self._store_configuration(route.operation, request)
                case (
                    "createMessageStoreReport"
                    | "readMessageStoreReportTask"
                    | "readMessageStoreReportArchive"
                    | "readMessageStoreReportArchiveContent"
                ):
                    return self.reports.handle(route.operation, route.params, request)
                case _:
                    return read_content(request, store, ids, route.params["att"])
        except ApiFailure as failure:
            return failure.response
        except AuthFailure as failure:
            return oauth_error(failure.status, failure.error, failure.code, failure.message)

    def _store_configuration(self, operation: str, request: Request) -> Response:
        session = self.auth.check_bearer(
            request.headers.get("authorization"), request.one("access_token")
        )
        login = self.account.get(int(session.owner_id))
        if login is None or not login.admin:
            return _permission_required(store_config.PERMISSION)
        if operation == "readMessageStoreConfiguration":
            return self.store_configuration.read()
        return self.store_configuration.update(request)

    def _token(self, request: Request) -> Response:
        self.auth.check_client(request.headers.get("authorization"))
        return json_response(200, self.auth.grant(request.form()), [("Cache-Control", "no-store")])

    def extension_info(self) -> dict[str, Any]:
        """`GetExtensionInfoResponse` of extension 101 (the admin JWT's login)."""
        return self.account.admin.info(self.base_url)


def _bearer_error(failure: AuthFailure) -> Response:
    if failure.code not in _BEARER_CODES:
        return api_error(failure.status, failure.code, failure.message)
    return json_response(
        401,
        {
            "errorCode": _BEARER_CODES[failure.code],
            "message": failure.message,
            "errors": [{"errorCode": failure.code, "message": failure.message}],
        },
    )


def _extension_not_found() -> Response:
    return api_error(
        404, "CMN-102", "Resource for parameter [extensionId] is not found", "extensionId"
    )


def _permission_required(permission: str) -> Response:
    """RingCentral's 403 when the login's role lacks a user permission over the target."""
    message = (
        f"In order to call this API endpoint, user needs to have [{permission}] permission "
        "for requested resource."
    )
    body = error_body("CMN-408", message)
    body["permissionName"] = permission
    body["errors"] = [{**body["errors"][0], "permissionName": permission}]
    return json_response(403, body)
