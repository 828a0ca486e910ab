"""Upload safety below the views: a size cap while the body streams in, and a check
that an image file holds the image and nothing else."""

from __future__ import annotations

import io
import re
import zlib

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.translation import gettext as _

# Markup a browser or a server-side interpreter would act on.
MARKUP = re.compile(
    rb"<\s*(?:\?php|!doctype|script|html|head|body|svg|iframe|object|embed|meta|img|"
    rb"a\s|form|style|link)|javascript:",
    re.IGNORECASE,
)
TEXT_LIMIT = 1_000_000  # bytes a compressed PNG text chunk may expand to when checked


class SizeCappedUploadHandler(FileUploadHandler):
    """Stop keeping a file once it passes ``settings.MAX_UPLOAD_BYTES``.

    Django's own handlers keep a file in memory (below FILE_UPLOAD_MAX_MEMORY_SIZE)
    or write all of it to a temporary file. First in FILE_UPLOAD_HANDLERS, this one
    passes chunks on until the file passes the limit and drops the rest, so memory or
    disk holds at most the limit plus one chunk. The view then gets an empty file
    that reports the size that was sent, and refuses it with the usual reason.
    """

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        return raw_data if self.received <= settings.MAX_UPLOAD_BYTES else None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received <= settings.MAX_UPLOAD_BYTES:
            return None  # the next handler holds the file
        return UploadedFile(
            io.BytesIO(), name=self.file_name, content_type=self.content_type, size=self.received
        )


def foreign_content(data: bytes, image_format: str) -> str | None:
    """Why a JPEG or PNG file holds more than its image, or None when it does not.

    A polyglot is a valid image that is also something else: HTML or script in a
    comment or text chunk, or appended after the image's end marker. Images are
    decoded without looking there, so only a walk over the file's structure shows it.
    """
    walk = {"JPEG": _jpeg_structure, "PNG": _png_structure}.get(image_format)
    if walk is None:
        return None
    metadata, end = walk(data)
    tail = data[end:]
    if tail.strip(b"\x00 \t\r\n"):
        return _("%(count)s bytes follow the end of the %(format)s image.") % {
            "count": f"{len(tail):,}",
            "format": image_format,
        }
    if any(MARKUP.search(text) for text in metadata):
        return _("its %(format)s metadata holds HTML or script code.") % {"format": image_format}
    return None


def _jpeg_structure(data: bytes) -> tuple[list[bytes], int]:
    """The comment and application segments, and where the end-of-image marker ends."""
    metadata: list[bytes] = []
    pos, size = 2, len(data)  # after the start-of-image marker
    while pos + 1 < size:
        if data[pos] != 0xFF:
            break  # not a marker: broken structure; the decoder judged the image
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return metadata, pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:  # APPn, COM
            metadata.append(data[pos + 4 : pos + 2 + length])
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            pos = _next_marker(data, pos)
    return metadata, size


def _next_marker(data: bytes, pos: int) -> int:
    """Skip entropy-coded data: 0xFF there is followed by 0x00 (stuffing) or a restart."""
    while (pos := data.find(b"\xff", pos)) != -1 and pos + 1 < len(data):
        following = data[pos + 1]
        if following != 0x00 and not 0xD0 <= following <= 0xD7:
            return pos
        pos += 2
    return len(data)


def _png_structure(data: bytes) -> tuple[list[bytes], int]:
    """The text chunks (decompressed) and where the IEND chunk ends."""
    metadata: list[bytes] = []
    pos, size = 8, len(data)  # after the signature
    while pos + 8 <= size:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        pos += 12 + length  # length, type, payload, CRC
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            metadata.append(_png_text(kind, payload))
        elif kind == b"IEND":
            return metadata, pos
    return metadata, size


def _png_text(kind: bytes, payload: bytes) -> bytes:
    keyword, _, rest = payload.partition(b"\x00")
    if kind == b"zTXt":
        return keyword + b" " + _inflate(rest[1:])
    if kind == b"iTXt" and rest[:1] == b"\x01":  # compressed international text
        text = rest[2:].split(b"\x00", 2)[-1]  # after language and translated keyword
        return keyword + b" " + _inflate(text)
    return payload


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, TEXT_LIMIT)
    except zlib.error:
        return data
