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


# Round two (issue 18): bombs within the byte cap, malformed DICOM headers, markup forms.
LIMIT_SIDE = 4096  # the default pixel limit is LIMIT_SIDE x LIMIT_SIDE


def _deflate_raw(parts) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return b"".join(compressor.compress(part) for part in parts) + compressor.flush()


def dicom_bytes(dataset, *, syntax=None, pixel_length: int | None = None, zeros: int = 0) -> bytes:
    """A DICOM file of ``dataset`` written as is (no validation: hostile values stay).

    With ``pixel_length`` the pixel data element declares that length and is followed
    by ``zeros`` zero bytes instead of its value (what a bomb needs). Deflated
    (``syntax``) files have their dataset deflated, as the standard says.
    """
    from pydicom import config, uid
    from pydicom.dataset import FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    syntax = syntax or uid.ExplicitVRLittleEndian
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = uid.CTImageStorage
    meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    meta.TransferSyntaxUID = syntax
    header, body = DicomBytesIO(), DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    saved = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        write_file_meta_info(header, meta, enforce_standard=True)
        _write_elements(body, dataset)
    finally:
        config.settings.writing_validation_mode = saved
    content = [body.getvalue()]
    if pixel_length is not None:
        content.append(b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", pixel_length))
        chunk = b"\x00" * (1 << 20)
        content += [chunk] * (zeros // len(chunk))
    if syntax == uid.DeflatedExplicitVRLittleEndian:
        content = [_deflate_raw(content)]
    return b"\x00" * 128 + b"DICM" + header.getvalue() + b"".join(content)


def _write_elements(body, dataset) -> None:
    """write_dataset, except that raw elements (hostile values) are written unconverted."""
    from pydicom.dataelem import RawDataElement
    from pydicom.filewriter import write_data_element

    for tag in sorted(dataset.keys()):
        element = dataset._dict[tag]
        if isinstance(element, RawDataElement):
            body.write(struct.pack("<HH", tag.group, tag.element) + element.VR.encode())
            body.write(struct.pack("<H", len(element.value)) + element.value)
        else:
            write_data_element(body, dataset[tag])


def ct_dataset(rows: int = 32, columns: int = 32, *, pixels: bool = True, **fields):
    """A small 16-bit CT slice dataset; ``fields`` replace header values (raw strings)."""
    import numpy as np
    from pydicom import config, uid
    from pydicom.dataset import Dataset

    saved = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = uid.CTImageStorage, uid.generate_uid()
        ds.Modality, ds.StudyDate = "CT", "20260301"
        ds.SliceThickness, ds.PixelSpacing = "5.0", ["0.7", "0.7"]
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        for keyword, value in fields.items():
            _set_raw(ds, keyword, value)
        if pixels:
            ramp = np.arange(rows * columns, dtype=np.uint16) % 2048 + 900
            ds.PixelData = ramp.tobytes()
            ds["PixelData"].VR = "OW"
    finally:
        config.settings.writing_validation_mode = saved
    return ds


def _set_raw(dataset, keyword: str, value) -> None:
    """Put ``value`` in the header as written, bypassing pydicom's conversion."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    tag = Tag(tag_for_keyword(keyword))
    vr = dictionary_VR(tag)
    if isinstance(value, int) and vr == "US":
        raw = struct.pack("<H", value)
    else:
        text = "\\".join(value) if isinstance(value, list) else str(value)
        raw = text.encode("ascii")
        raw += b" " * (len(raw) % 2)
    dataset._dict[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, True)


def _deflate_bomb(side_x: int, side_y: int, *, zeros: int) -> bytes:
    """Deflated DICOM declaring side_x x side_y 16-bit pixels: a few hundred kB of file."""
    from pydicom import uid

    dataset = ct_dataset(side_y, side_x, pixels=False)
    length = min(side_x * side_y * 2, 0xFFFFFFFE)
    return dicom_bytes(
        dataset, syntax=uid.DeflatedExplicitVRLittleEndian, pixel_length=length, zeros=zeros
    )


def _modality_lut_short() -> bytes:
    """A modality LUT whose data holds fewer entries than its descriptor says."""
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]
    lut.ModalityLUTType = "HU"
    lut.LUTData = struct.pack("<16H", *range(16))
    lut["LUTData"].VR = "OW"
    dataset = ct_dataset()
    del dataset.RescaleSlope, dataset.RescaleIntercept
    dataset.ModalityLUTSequence = [lut]
    return dicom_bytes(dataset)


def png_16bit(width: int, height: int) -> bytes:
    """A 16-bit grey PNG of the size given, written row by row (tiny when compressed)."""
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    row = b"\x00" + (b"\x12\x34" * width)
    idat = _deflate_zlib(row, height)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + idat + _png_chunk(b"IEND", b"")


def _deflate_zlib(row: bytes, count: int) -> bytes:
    compressor = zlib.compressobj(6)
    data = b"".join(compressor.compress(row) for _ in range(count)) + compressor.flush()
    return _png_chunk(b"IDAT", data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A 256 x 256 JPEG whose frame header claims width x height."""
    jpeg = encode(synthetic_slice(1, 1, size=256), "JPEG", quality=90)
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def _with_png_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    header_end = 8 + 8 + 13 + 4
    return png[:header_end] + _png_chunk(kind, payload) + png[header_end:]


EVENT_HANDLER = b'<details open ontoggle="alert(document.cookie)">'
EXIF = b"MM\x00*"
UTF16_MARKUP = "<script>alert(1)</script>".encode("utf-16-le")


def markup_corpus() -> list[Case]:
    """Valid images carrying markup where the structure check does not look: accepted,
    and what is served back is a PNG of the pixels only (reason: the marker kept out)."""
    jpeg, png = _jpeg(), png_slice()
    return [
        Case("handler-comment.jpg", _with_jpeg_comment(jpeg, EVENT_HANDLER), "ontoggle"),
        Case("utf16-comment.jpg", _with_jpeg_comment(jpeg, UTF16_MARKUP), "s\x00c\x00r"),
        Case(
            "exif-chunk.png", _with_png_chunk(png, b"eXIf", b"MM\x00*" + EVENT_HANDLER), "ontoggle"
        ),
        Case("private-chunk.png", _with_png_chunk(png, b"prVt", EVENT_HANDLER), "ontoggle"),
        Case("utf16-text.png", _with_png_text(png, UTF16_MARKUP), "s\x00c\x00r"),
    ]


MALFORMED = "damaged"
TOO_LARGE = "pixels"


def malformed_dicom_corpus() -> list[Case]:
    """DICOM files with hostile header values: each refused with a plain reason."""
    dicom = dicom_bytes
    rgb = ct_dataset(SamplesPerPixel=3)  # three samples labelled MONOCHROME2
    return [
        Case("frames-text.dcm", dicom(ct_dataset(NumberOfFrames="abc")), MALFORMED),
        Case("frames-nan.dcm", dicom(ct_dataset(NumberOfFrames="NaN")), MALFORMED),
        Case("frames-inf.dcm", dicom(ct_dataset(NumberOfFrames="inf")), MALFORMED),
        Case("rows-text.dcm", dicom(ct_dataset(Rows="x")), MALFORMED),
        Case("slope-nan.dcm", dicom(ct_dataset(RescaleSlope="NaN")), MALFORMED),
        Case("slope-text.dcm", dicom(ct_dataset(RescaleSlope="steep")), MALFORMED),
        Case("intercept-inf.dcm", dicom(ct_dataset(RescaleIntercept="-inf")), MALFORMED),
        Case("lut-short.dcm", _modality_lut_short(), MALFORMED),
        Case("rgb-as-grey.dcm", dicom(rgb), "samples per pixel"),
        Case("bits-32.dcm", dicom(ct_dataset(BitsAllocated=32)), "bits per sample"),
        Case("pixels-short.dcm", dicom(ct_dataset(pixels=False), pixel_length=64), MALFORMED),
        Case("header-cut.dcm", dicom(ct_dataset())[:200], "no image"),
        Case("deflate-bomb.dcm", _deflate_bomb(30_000, 25_000, zeros=64 << 20), "expands"),
        Case("deflate-huge.dcm", _deflate_bomb(65_535, 65_535, zeros=64 << 20), "expands"),
        Case("png16-7000.png", png_16bit(7000, 7000), TOO_LARGE),
        Case("jpeg-claims-7000.jpg", _jpeg_claiming(7000, 7000), TOO_LARGE),
    ]


def deflate_bombs() -> list[Case]:
    """The deflated DICOM bombs of the malformed corpus: the costliest files refused."""
    return [case for case in malformed_dicom_corpus() if case.name.startswith("deflate-")]


def tolerated_dicom_corpus() -> list[Case]:
    """Odd but harmless header values: the slice is read, the odd field left out."""
    dicom = dicom_bytes
    return [
        Case("thickness-nan.dcm", dicom(ct_dataset(SliceThickness="NaN")), "slice_thickness_mm"),
        Case("spacing-inf.dcm", dicom(ct_dataset(PixelSpacing=["inf", "0.7"])), "pixel_spacing_mm"),
        Case("thickness-text.dcm", dicom(ct_dataset(SliceThickness="thin")), "slice_thickness_mm"),
    ]


def plain_slice() -> Case:
    """A slice as a CT scanner writes it (512 x 512 JPEG): the baseline of the budget bench."""
    return Case("plain-512.jpg", encode(synthetic_slice(1, 1, size=512), "JPEG", quality=90), "")


def at_the_limit() -> list[Case]:
    """The costliest files a request may hold, one of each kind at the pixel limit."""
    import numpy as np
    from pydicom import uid

    side = LIMIT_SIDE
    ramp = (np.add.outer(np.arange(side), np.arange(side)) % 256).astype(np.uint8)
    rgba = Image.fromarray(np.dstack([ramp, ramp[::-1], ramp.T, ramp]), "RGBA")
    dicom = ct_dataset(side, side)
    return [
        Case("limit-16bit.png", png_16bit(side, side), ""),
        Case("limit-rgba.png", encode(rgba, "PNG", compress_level=1), ""),
        Case("limit-rgb.jpg", encode(rgba.convert("RGB"), "JPEG", quality=95), ""),
        Case(
            "limit-deflated.dcm", dicom_bytes(dicom, syntax=uid.DeflatedExplicitVRLittleEndian), ""
        ),
    ]
