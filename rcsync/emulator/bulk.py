"""RingCentral's batch (bulk) wire formats.

A bulk answer is ``207 Multi-Status`` with one part per resource, each with its own status.
Which format: ``application/vnd.ringcentral.multipart+json`` (a JSON array of
``{"resourceId", "status", "body"}``) when the client asks for it (``Accept``, or sends its
body in that type), otherwise ``multipart/mixed`` whose first part summarises statuses
(``{"response": [{"href", "status", "responseDescription"}]}``) followed by one JSON part
per resource — the layout RingCentral's Python SDK ``ApiResponse.multipart()`` parses.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .wire import Request, Response

MULTIPART_JSON = "application/vnd.ringcentral.multipart+json"
_boundaries = itertools.count(1)


@dataclass
class Part:
    resource_id: str
    status: int
    body: bytes | None  # JSON bytes, or None for bodiless statuses (204)
    href: str


def wants_json(request: Request) -> bool:
    return MULTIPART_JSON in request.headers.get(
        "accept", ""
    ) or MULTIPART_JSON in request.headers.get("content-type", "")


def multi_status(request: Request, parts: list[Part]) -> Response:
    if wants_json(request):
        chunks = []
        for part in parts:
            head = b'{"resourceId":%s,"status":%d' % (
                json.dumps(part.resource_id).encode(),
                part.status,
            )
            chunks.append(head + (b',"body":' + part.body if part.body is not None else b"") + b"}")
        return Response(207, b"[" + b",".join(chunks) + b"]", [("Content-Type", MULTIPART_JSON)])
    boundary = f"Boundary_{next(_boundaries)}_emulator"
    summary = {
        "response": [
            {"href": p.href, "status": p.status, "responseDescription": HTTPStatus(p.status).phrase}
            for p in parts
        ]
    }
    sections = [json.dumps(summary).encode()] + [p.body or b"{}" for p in parts]
    out = b"".join(
        b"--%s\r\nContent-Type: application/json\r\n\r\n%s\r\n" % (boundary.encode(), s)
        for s in sections
    )
    out += b"--%s--\r\n" % boundary.encode()
    return Response(207, out, [("Content-Type", f"multipart/mixed; boundary={boundary}")])


def parse_multipart_mixed(content_type: str, body: bytes) -> list[Any]:
    """JSON values of each part of a multipart/mixed request body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError("multipart body without boundary")
    delimiter = b"--" + match.group(1).encode()
    values = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        _, _, payload = (
            chunk.partition(b"\r\n\r\n") if b"\r\n\r\n" in chunk else chunk.partition(b"\n\n")
        )
        values.append(json.loads(payload.strip()))
    return values
