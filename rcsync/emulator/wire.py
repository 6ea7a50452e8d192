"""Transport-agnostic request/response values and RingCentral's error bodies.

The emulator's core maps a `Request` to a `Response`; thin adapters turn those into
`httpx` objects (in-process) or bytes on a socket (`server`, h11). ``Response.reset`` asks
the adapter to drop the connection mid-response instead of answering (a fault).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
        path, _, query = target.partition("?")
        return cls(
            method.upper(),
            unquote(path),  # once: "%7E" is "~", "%2C" a comma, "%252C" stays "%2C"
            parse_qsl(query, keep_blank_values=True),
            {k.lower(): v for k, v in headers.items()},
            body,
        )

    def all(self, name: str) -> list[str]:
        """Every value of a repeatable query parameter (form/explode; commas also split)."""
        return [part for k, v in self.query if k == name for part in v.split(",") if part]

    def one(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass(frozen=True)
class BodyStream:
    """A body too large to hold in memory (an export zip): its size and its bytes in chunks."""

    size: int
    chunks: Callable[[], Iterator[bytes]]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reset: bool = False
    stream: BodyStream | None = None  # when set, the body is this, not ``body``

    @property
    def length(self) -> int:
        return self.stream.size if self.stream is not None else len(self.body)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


def json_response(
    status: int, value: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return raw_json(status, body, headers)


def raw_json(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status, body, [("Content-Type", "application/json; charset=UTF-8"), *(headers or [])]
    )


def error_body(code: str, message: str, parameter: str | None = None) -> dict[str, Any]:
    """RingCentral's API error: legacy top-level fields plus ``errors[]`` (see API-NOTES §5)."""
    item: dict[str, Any] = {"errorCode": code, "message": message}
    if parameter:
        item["parameterName"] = parameter
    return {**item, "errors": [item]}


def api_error(status: int, code: str, message: str, parameter: str | None = None) -> Response:
    return json_response(status, error_body(code, message, parameter))


def oauth_error(status: int, error: str, code: str, message: str) -> Response:
    body = {
        "error": error,
        "errors": [{"errorCode": code, "message": message}],
        "error_description": message,
    }
    return json_response(status, body)


def not_found(parameter: str) -> Response:
    return api_error(
        404, "CMN-102", f"Resource for parameter [{parameter}] is not found", parameter
    )


def invalid(parameter: str) -> Response:
    return api_error(400, "CMN-101", f"Parameter [{parameter}] value is invalid.", parameter)


class ApiFailure(Exception):
    """Raised inside operations to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response
