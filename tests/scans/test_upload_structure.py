"""scans.uploads.foreign_content: what a polyglot is, and what an ordinary image is not."""

from __future__ import annotations

import struct
import zlib

import pytest
from factories import encode, synthetic_slice
from PIL import Image, PngImagePlugin

from scans.uploads import foreign_content

SCRIPT = b"<script>fetch('/api/v1/scans/')</script>"


def _jpeg(**options) -> bytes:
    return encode(synthetic_slice(0, 1, size=96).convert("RGB"), "JPEG", **options)


def _png_with(chunks: list[tuple[str, str, bool]]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value, compressed in chunks:
        info.add_itxt(key, value, zip=compressed) if key.startswith("i:") else info.add_text(
            key, value, zip=compressed
        )
    return encode(synthetic_slice(0, 1, size=32), "PNG", pnginfo=info)


def test_every_real_sample_slice_holds_only_its_image(sample_dir):
    paths = sorted(sample_dir.glob("*/*.jpg"))
    assert len(paths) == 1600
    flagged = {p.name: foreign_content(p.read_bytes(), "JPEG") for p in paths}
    assert {name: why for name, why in flagged.items() if why} == {}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"progressive": True},
        {"quality": 60, "optimize": True},
        {"exif": Image.Exif(), "comment": b"Exported by a PACS viewer"},
        {"restart_marker_blocks": 4},
        {"icc_profile": b"\x00" * 512},
    ],
    ids=["baseline", "progressive", "optimized", "exif-comment", "restart-markers", "icc"],
)
def test_ordinary_jpegs_hold_only_their_image(options):
    assert foreign_content(_jpeg(**options), "JPEG") is None


def test_padding_after_the_end_marker_is_not_content():
    assert foreign_content(_jpeg() + b"\x00" * 64 + b"\r\n", "JPEG") is None


@pytest.mark.parametrize("where", ["comment", "tail", "tail-after-fake-end"])
def test_markup_in_or_after_a_jpeg_is_found(where):
    jpeg = _jpeg()
    data = {
        "comment": jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(SCRIPT) + 2) + SCRIPT + jpeg[2:],
        "tail": jpeg + SCRIPT,
        "tail-after-fake-end": jpeg + SCRIPT + b"\xff\xd9",
    }[where]
    assert foreign_content(data, "JPEG")


def test_bytes_after_the_image_are_counted():
    assert foreign_content(_jpeg() + b"PK\x03\x04" + b"x" * 96, "JPEG") == (
        "100 bytes follow the end of the JPEG image."
    )


def test_ordinary_png_text_is_not_content():
    png = _png_with([("Software", "kidneyweb tests", False), ("Comment", "a < b and c > d", True)])
    assert foreign_content(png, "PNG") is None


@pytest.mark.parametrize(
    "chunk",
    [
        ("Comment", SCRIPT.decode(), False),
        ("Comment", SCRIPT.decode(), True),
        ("i:Note", SCRIPT.decode(), True),
    ],
    ids=["tEXt", "zTXt", "compressed-iTXt"],
)
def test_markup_in_png_text_chunks_is_found_even_compressed(chunk):
    assert (
        foreign_content(_png_with([chunk]), "PNG") == "its PNG metadata holds HTML or script code."
    )


def test_markup_after_the_png_end_is_found():
    png = encode(synthetic_slice(0, 1, size=32))
    assert foreign_content(png + b"<html>", "PNG") == "6 bytes follow the end of the PNG image."


def test_a_png_chunk_length_past_the_end_does_not_crash():
    png = encode(synthetic_slice(0, 1, size=32))
    broken = png[:33] + struct.pack(">I", 2**31) + b"tEXt" + zlib.compress(SCRIPT)
    assert foreign_content(broken, "PNG") is None  # the chunk is cut short; nothing to find


def test_other_formats_are_not_walked():
    assert foreign_content(b"DICM" + SCRIPT, "DICOM") is None
