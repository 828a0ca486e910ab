"""Hostile and broken upload files, generated (not hand-picked): the security tests send
them to the upload page and the API, the integration tests to the running stack."""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass

from factories import encode, synthetic_slice
from PIL import Image

SEED = 20261126
NOT_ACCEPTED = "Not a JPEG, PNG or DICOM image."
FOREIGN = "besides the image"


@dataclass(frozen=True)
class Case:
    name: str  # the file name sent
    data: bytes
    reason: str  # a part of the message the user must see


def _jpeg() -> bytes:
    return encode(synthetic_slice(1, 1, size=128), "JPEG", quality=90)


def png_slice() -> bytes:
    return encode(synthetic_slice(2, 1, size=64))


def _with_jpeg_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The same JPEG with a COM segment right after its start marker."""
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return jpeg[:2] + segment + jpeg[2:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _with_png_text(png: bytes, text: bytes) -> bytes:
    """The same PNG with a tEXt chunk after its header chunk."""
    header_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:header_end] + _png_chunk(b"tEXt", b"Comment\x00" + text) + png[header_end:]


def _fits() -> bytes:
    """A minimal FITS file (astronomy): a 2-D 8-bit image, 2880-byte header and data."""
    cards = ["SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 2", "NAXIS1  = 16", "NAXIS2  = 16", "END"]
    header = "".join(f"{card:<80}" for card in cards).encode("ascii")
    header += b" " * (-len(header) % 2880)
    data = bytes(range(256))
    return header + data + b"\x00" * (-len(data) % 2880)


def _saved(image: Image.Image, image_format: str, **options) -> bytes:
    return encode(image, image_format, **options)


def _animated_gif() -> bytes:
    frames = [synthetic_slice(i, 1, size=32).convert("P") for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buffer.getvalue()


def _bomb() -> bytes:
    """A PNG claiming 50,000 x 50,000 pixels: a few kB of file, 2.5 G pixels if decoded."""
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * 50_000
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def hostile_corpus() -> list[Case]:
    rng = random.Random(SEED)
    jpeg, png = _jpeg(), png_slice()
    script = b"<html><body><script>alert(document.cookie)</script></body></html>"
    slice_ = synthetic_slice(3, 1, size=48)
    cases = [
        Case("empty.png", b"", "The file is empty."),
        Case("truncated.jpg", jpeg[: len(jpeg) // 2], "damaged"),
        Case("truncated.png", png[: len(png) // 2], "damaged"),
        Case("random.jpg", rng.randbytes(8192), NOT_ACCEPTED),
        Case("notes.png", b"Patient notes, not an image.\n" * 20, NOT_ACCEPTED),
        Case("page.png", script, NOT_ACCEPTED),
        Case(
            "drawing.png",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
            NOT_ACCEPTED,
        ),
        Case("shell.png", b"<?php system($_GET['c']); ?>", NOT_ACCEPTED),
        # Polyglots: valid images that are also markup, inside or after the image.
        Case("polyglot-comment.jpg", _with_jpeg_comment(jpeg, script), FOREIGN),
        Case("polyglot-tail.jpg", jpeg + script, FOREIGN),
        Case("polyglot-text.png", _with_png_text(png, script), FOREIGN),
        Case("polyglot-tail.png", png + script, FOREIGN),
        Case("bomb.png", _bomb(), "pixels"),
        Case("animated.gif", _animated_gif(), NOT_ACCEPTED),
        Case("slice.tiff", _saved(slice_, "TIFF"), NOT_ACCEPTED),
        Case("slice.bmp", _saved(slice_, "BMP"), NOT_ACCEPTED),
        Case("slice.webp", _saved(slice_, "WEBP"), NOT_ACCEPTED),
        Case("slice.fits", _fits(), NOT_ACCEPTED),
        # The same foreign formats under an accepted name: content decides, not names.
        Case("really-a-tiff.png", _saved(slice_, "TIFF"), NOT_ACCEPTED),
        Case("really-a-gif.jpg", _animated_gif(), NOT_ACCEPTED),
    ]
    return cases
