"""Turning RingCentral error answers into rcsync's exception tree.

RingCentral bodies come in three shapes (API-NOTES §5): ``{"errors": [{"errorCode", "message"}]}``,
the legacy top-level ``errorCode``/``message`` next to it, and the OAuth form
``{"error", "error_description"}``. `error_details` reads all three. Every message is one line:
``<operation>: HTTP <status> <errorCode>: <message>``; no URL (it may carry a sync token) and no
header (it carries the access token) is ever included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from rcsync.errors import (
    ApiError,
    AuthError,
    MalformedResponse,
    RateLimitedError,
    ServerError,
    SyncTokenInvalid,
)

LOGIN_HINT = "run `rcsync login`"
_MAX_MESSAGE = 200


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_error(body: Mapping[str, Any]) -> Mapping[str, Any]:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return errors[0]
    return {}


def error_details(body: Any) -> tuple[str | None, str | None]:
    """(errorCode, message) from any RingCentral error body; (None, None) if there is none."""
    if not isinstance(body, Mapping):
        return None, None
    first = _first_error(body)
    code = first.get("errorCode") or body.get("errorCode") or body.get("error")
    message = first.get("message") or body.get("message") or body.get("error_description")
    return (
        str(code) if code is not None else None,
        one_line(str(message)) if message is not None else None,
    )


def response_json(response: httpx.Response) -> Any:
    """The body as JSON, or None if it is not JSON (never raises)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None


def describe(op: str, response: httpx.Response) -> tuple[str, str | None]:
    """One-line description of an error answer, and its errorCode."""
    code, message = error_details(response_json(response))
    text = f"{op}: HTTP {response.status_code}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    elif not code:
        text += f" {response.reason_phrase}".rstrip()
    return text, code


def error_from_response(op: str, response: httpx.Response) -> ApiError:
    """Map a non-success answer to the exception tree."""
    status = response.status_code
    text, code = describe(op, response)
    if status == 401:
        return AuthError(f"{text} ({LOGIN_HINT})", status=status, code=code)
    if status == 429:
        return RateLimitedError(text, status=status, code=code)
    if code == "MSG-333":
        return SyncTokenInvalid(f"{text} (a full resync is needed)", status=status, code=code)
    if status >= 500:
        return ServerError(text, status=status, code=code)
    return ApiError(text, status=status, code=code)


def malformed(op: str, what: str) -> MalformedResponse:
    return MalformedResponse(f"malformed response from {op}: {one_line(what)}")
