"""Reading a large JSON answer record by record while it arrives (the first pull's FSync).

An FSync without ``recordCount`` answers every Alive record of the whole history in one
body (message-sync has no paging): 100,000 messages are about 100 MB of JSON, and parsing
it whole holds all of it, and every record as a dict, at once. `RecordStream` instead cuts
``{"records": [r1, r2, ...], "syncInfo": {...}, ...}`` into its records as the bytes come,
so memory stays at one chunk plus one batch whatever the history's size.

How: the body is decoded incrementally (UTF-8) into a text buffer, the top-level object is
walked by hand (keys, ``:``, ``,``), and every value, each record included, is parsed by
`json.JSONDecoder.raw_decode` — the same C parser as ``json.loads`` (and so as
``httpx.Response.json``): exact 64-bit integers, lone ``\\ud83d`` escapes kept, the same
strictness. A value that does not parse yet is retried with more bytes; only at the end of
the body is it malformed. The other members (``syncInfo``, ``uri``) are small and kept.
No dependency (an incremental parser such as ijson) is needed for that: the records are
the only large part, and each one is small.

`records(texts=True)` also hands out each record's own JSON text, cut from the body where
`raw_decode` found it: the pull stores that as ``raw`` instead of serialising the parsed
dict again, which was two thirds of the per-record mapping cost of a first pull.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

from rcsync.api.errors import malformed
from rcsync.errors import MalformedResponse

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class RecordStream:
    """The records of ``body[key]`` one by one (`records`), then the other members (`rest`).

    `chunks` yields the body's bytes (``httpx.Response.iter_bytes()``); transport errors it
    raises pass through unchanged. If ``body[key]`` is not an array it is kept in `rest`.
    A body that is not one JSON object raises `MalformedResponse` naming `operation`.
    """

    def __init__(self, chunks: Iterator[bytes], *, operation: str, key: str = "records") -> None:
        self._chunks = chunks
        self._operation = operation
        self._key = key
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.rest: dict[str, Any] = {}
        self.found = False  # body[key] was an array (streamed, not in `rest`)
        self.complete = False  # the whole body was read and was one JSON object

    # -- the walk --------------------------------------------------------------------------

    def records(self) -> Iterator[Any]:
        """Every element of the records array, in order; then `rest` and `complete` are set."""
        for value, _text in self.records_with_text():
            yield value

    def records_with_text(self) -> Iterator[tuple[Any, str]]:
        """`records`, each with its JSON text exactly as it stands in the body."""
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                name = self._value()
                if not isinstance(name, str):
                    raise self._bad("an object key is not a string")
                self._expect(":")
                if name == self._key and self._peek() == "[":
                    self.found = True
                    yield from self._array()
                else:
                    self.rest[name] = self._value()
                if self._next_of(",}") == "}":
                    break
        if self._peek() != "":
            raise self._bad("data after the JSON object")
        self.complete = True

    def _array(self) -> Iterator[tuple[Any, str]]:
        self._pos += 1  # "["
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self._value_and_text()
            if self._next_of(",]") == "]":
                return

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._bad(f"expected {char!r}")
        self._pos += 1

    def _next_of(self, chars: str) -> str:
        char = self._peek()
        if char == "" or char not in chars:
            raise self._bad(f"expected one of {chars!r}")
        self._pos += 1
        return char

    def _bad(self, why: str) -> MalformedResponse:
        return malformed(self._operation, f"the body is not valid JSON ({why})")

    # -- the buffer ------------------------------------------------------------------------

    def _peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the body)."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def _value(self) -> Any:
        """The JSON value at the cursor, reading more of the body until it is whole."""
        return self._value_and_text()[0]

    def _value_and_text(self) -> tuple[Any, str]:
        """`_value` and the text it was parsed from."""
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if not self._grow():
                    raise self._bad("truncated or invalid JSON") from None
                continue
            # A number (or a literal) that ends where the buffer ends may go on in the
            # next chunk: make sure, unless the body is over.
            if end == len(self._buf) and self._grow():
                continue
            start, self._pos = self._pos, end
            return value, self._buf[start:end]

    def _grow(self) -> bool:
        """At least double what is buffered after the cursor (so a value that spans many
        chunks is re-parsed O(log n) times, not once per chunk); False at the end."""
        want = 2 * max(len(self._buf) - self._pos, 1)
        grew = False
        while len(self._buf) - self._pos < want and self._more():
            grew = True
        return grew

    def _more(self) -> bool:
        if self._eof:
            return False
        for chunk in self._chunks:
            text = self._decode(chunk)
            if text:
                # What is consumed goes: the buffer is one chunk plus an unfinished value.
                self._buf, self._pos = self._buf[self._pos :] + text, 0
                return True
        self._eof = True
        self._buf += self._decode(b"", final=True)
        return False

    def _decode(self, data: bytes, *, final: bool = False) -> str:
        try:
            return self._utf8.decode(data, final)
        except UnicodeDecodeError:
            raise self._bad("the body is not UTF-8") from None
