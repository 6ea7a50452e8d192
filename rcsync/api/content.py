"""Streaming attachment download with resume.

Attachment URIs in records are absolute and usually on the media host
(``media.ringcentral.com``); the same ``httpx.Client`` (and so the same bearer auth) is used.
RingCentral supports ``Range`` (API-NOTES §2.7), so a download continues where it stopped:

* ``206`` — the server honoured ``Range: bytes=<offset>-``: append;
* ``200`` — the server ignored it: truncate `dest` back to the content start and write it all;
* ``416`` — nothing after `offset`: if ``Content-Range: bytes */<size>`` says the content is
  exactly `offset` long the file was already complete, otherwise start again from 0.

A connection that breaks mid-body is resumed from the bytes received so far, a bounded
number of times (a GET is safe to repeat).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import IO

import httpx

from rcsync.api.errors import malformed
from rcsync.api.ratelimit import Group
from rcsync.api.session import ApiSession, Operation
from rcsync.errors import ApiError, NetworkError

log = logging.getLogger("rcsync.api")

CONTENT = Operation("readMessageContent", Group.MEDIUM)
_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_SIZE = re.compile(r"bytes\s+\*/(\d+)")


class _Restart(Exception):
    """The server cannot continue from the offset: start the content from byte 0."""


class _Broken(Exception):
    """The body stopped mid-way; what arrived so far is kept."""


@dataclass
class _Progress:
    dest: IO[bytes]
    start: int  # where the content begins in dest
    pos: int  # content bytes already in dest
    written: int = 0  # bytes written by this call since the last restart

    def restart(self) -> None:
        self.dest.seek(self.start)
        self.dest.truncate()
        self.pos = self.written = 0


def download(
    session: ApiSession,
    uri: str,
    dest: IO[bytes],
    *,
    offset: int = 0,
    op: Operation = CONTENT,
) -> int:
    """Write the content at `uri` into `dest`, which is positioned `offset` bytes into it.

    `op` names the request for the budget and errors: an attachment (Medium) by default,
    an export archive (Heavy) for `rcsync.api.export`.

    Returns the bytes written by this call after the last restart: size - offset on a resume,
    the whole size when the server ignored the range. ``dest.tell()`` is the end afterwards.
    """
    if offset < 0:
        raise ValueError("offset must be >= 0")
    progress = _Progress(dest, dest.tell() - offset, offset)
    failures = 0
    while True:
        try:
            _fetch(session, uri, progress, op)
            return progress.written
        except _Restart:
            log.debug("%s: cannot resume at %d; starting over", op.name, progress.pos)
            progress.restart()
        except _Broken as broken:
            failures += 1
            if failures >= session.policy.attempts:
                raise NetworkError(
                    f"{op.name}: connection lost during download ({broken}); gave up "
                    f"after {failures} attempts at byte {progress.pos}"
                ) from None


def _fetch(session: ApiSession, uri: str, progress: _Progress, op: Operation) -> None:
    """One GET from `progress.pos` to the end; raises _Restart or _Broken."""
    pos = progress.pos
    headers = {"Range": f"bytes={pos}-"} if pos else {}
    with session.stream(op, uri, headers=headers, ok=(200, 206, 416)) as response:
        status = response.status_code
        if status == 416:
            _after_416(response, pos, op)
            return
        if status == 200 and pos:
            progress.restart()  # the server ignored the range and sends everything
        elif status == 206:
            _check_range(response, pos, op)
        _copy(response, progress)


def _after_416(response: httpx.Response, pos: int, op: Operation) -> None:
    match = _SIZE.match(response.headers.get("Content-Range", ""))
    if pos and match and int(match.group(1)) == pos:
        return  # already complete
    if pos:
        raise _Restart()
    raise ApiError(f"{op.name}: HTTP 416 for a request without Range", status=416)


def _check_range(response: httpx.Response, pos: int, op: Operation) -> None:
    match = _RANGE.match(response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) != pos:
        raise malformed(op.name, f"206 answer does not start at byte {pos}")


def _copy(response: httpx.Response, progress: _Progress) -> None:
    try:
        for chunk in response.iter_bytes():
            progress.dest.write(chunk)
            progress.pos += len(chunk)
            progress.written += len(chunk)
    except httpx.TransportError as exc:
        raise _Broken(exc.__class__.__name__) from None
