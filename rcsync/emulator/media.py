"""Attachment bytes, made on demand.

A million messages cannot each keep their audio or fax, so content is computed from a small
parameter (voicemail duration, fax page count, image variant) and memoised. Each generator is
deterministic, so the ``size`` a record advertises always equals the bytes served, and sizes
can be computed without building the bytes.

- Voicemail: mono 8-bit PCM WAV at 4 kHz (``audio/x-wav``, as RingCentral's samples show),
  a quiet two-tone beep pattern; size = 44-byte header + 4000 bytes per second.
- Fax: a minimal but valid PDF with the advertised number of pages (``application/pdf``).
- MMS: a small valid PNG (``image/png``) in one of a few colours.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
import zlib

WAV_RATE = 4000
WAV_HEADER = 44
PNG_SIZE = 16


def wav_size(seconds: int) -> int:
    return WAV_HEADER + WAV_RATE * seconds


@functools.lru_cache(maxsize=64)
def wav_bytes(seconds: int) -> bytes:
    """A ``seconds``-long 8-bit mono WAV; deterministic."""
    period = [int(128 + 40 * math.sin(2 * math.pi * 440 * i / WAV_RATE)) for i in range(WAV_RATE)]
    second = bytes(period)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(WAV_RATE)
        writer.writeframes(second * seconds)
    data = buffer.getvalue()
    assert len(data) == wav_size(seconds)
    return data


@functools.lru_cache(maxsize=32)
def pdf_bytes(pages: int) -> bytes:
    """A valid PDF with ``pages`` pages, each showing its number; xref offsets exact."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_ref = 3 + 2 * pages
    for i in range(pages):
        content_ref = 4 + 2 * i
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_ref} 0 R"
                f" /Resources << /Font << /F1 {font_ref} 0 R >> >> >>"
            ).encode()
        )
        stream = f"BT /F1 24 Tf 72 700 Td (Emulated fax page {i + 1} of {pages}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=16)
def png_bytes(variant: int) -> bytes:
    """A 16x16 RGB PNG in one of 8 colours, with a diagonal stripe."""
    red, green, blue = ((variant * 97) % 256, (variant * 57 + 80) % 256, (variant * 31 + 160) % 256)
    rows = bytearray()
    for y in range(PNG_SIZE):
        rows.append(0)  # filter type None
        for x in range(PNG_SIZE):
            rows += bytes((255, 255, 255)) if x == y else bytes((red, green, blue))
    header = struct.pack(">IIBBBBB", PNG_SIZE, PNG_SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=32)
def pdf_size(pages: int) -> int:
    return len(pdf_bytes(pages))


@functools.lru_cache(maxsize=16)
def png_size(variant: int) -> int:
    return len(png_bytes(variant % 8))


def placeholder_for(content_type: str, seed: int) -> bytes:
    """Bytes matching an arbitrary content type, for injected attachments that carry none."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("audio/"):
        return wav_bytes(1 + seed % 5)
    if kind == "application/pdf":
        return pdf_bytes(1 + seed % 3)
    if kind.startswith("image/"):
        return png_bytes(seed % 8)
    return f"Emulated content {seed}\n".encode()
