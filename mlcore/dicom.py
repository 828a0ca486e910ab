"""DICOM slices to the 8-bit grey image every other input becomes.

A CT slice stores raw detector values; the modality LUT (rescale slope and
intercept) turns them into Hounsfield units, and a window (level, width) maps
the units of interest onto grey levels. The training images are exported with
an abdominal soft-tissue window, level 40 and width 400, so that is the
default. After windowing, DICOM takes the same path as JPEG and PNG.

Only what the pages show is kept from the header (modality, study date,
slice thickness, pixel spacing, the window used); names, ids, birth dates and
every other tag are dropped with the file.
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

DICOM_PREAMBLE_END = 128
DICOM_MAGIC = b"DICM"
MAX_BYTES_PER_PIXEL = 2  # one 16-bit sample: what a CT slice stores
HEADER_ALLOWANCE = 1024 * 1024  # bytes of header a deflated file may inflate to


@dataclass(frozen=True)
class Window:
    level: float = 40.0
    width: float = 400.0

    def __post_init__(self):
        if self.width <= 0:
            raise ValueError("The window width must be positive.")


ABDOMEN = Window()


class DicomError(ValueError):
    """The DICOM file cannot be turned into an image; ``kind`` says why."""

    def __init__(self, message: str, kind: str, *, pixels: int | None = None):
        super().__init__(message)
        self.kind = kind  # "unsupported", "corrupt" or "too_large"
        self.pixels = pixels  # for "too_large": the pixels the header declares


def is_dicom(data: bytes) -> bool:
    return data[DICOM_PREAMBLE_END : DICOM_PREAMBLE_END + 4] == DICOM_MAGIC


def read_dicom(data: bytes, *, window: Window = ABDOMEN, max_pixels: int) -> Image.Image:
    """Decode a single-frame greyscale DICOM slice to a windowed 8-bit "L" image.

    The budget is checked before any pixel is decoded: a deflated file is inflated
    at most to what a slice at the limit needs (:func:`inflated_cap`), and the
    header must declare one frame, one sample per pixel, 8 or 16 bits and at most
    ``max_pixels`` pixels. The kept header fields are in ``image.info["dicom"]``.
    """
    dataset = _dataset(data, max_pixels=max_pixels)
    if "PixelData" not in dataset:
        raise DicomError("The DICOM file holds no image.", "unsupported")
    _check_budget(dataset, max_pixels=max_pixels)
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(
            f"Only greyscale DICOM is read (this one is {photometric or 'unlabelled'}).",
            "unsupported",
        )
    units = _hounsfield(dataset)
    # In place, so a slice at the limit holds one float64 copy (same numbers as before).
    np.subtract(units, window.level - window.width / 2, out=units)
    np.divide(units, window.width, out=units)
    np.clip(units, 0.0, 1.0, out=units)
    np.multiply(units, 255, out=units)
    grey = np.round(units, out=units).astype(np.uint8)
    if photometric == "MONOCHROME1":  # the lowest value is white
        grey = 255 - grey
    image = Image.fromarray(grey, mode="L")
    image.format = "DICOM"
    image.info["dicom"] = _kept_fields(dataset, window)
    return image


def inflated_cap(max_pixels: int) -> int:
    """Bytes a deflated DICOM may inflate to: a 16-bit slice at the limit and its header."""
    return max_pixels * MAX_BYTES_PER_PIXEL + HEADER_ALLOWANCE


def _dataset(data: bytes, *, max_pixels: int):
    import pydicom
    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        stream = io.BytesIO(data)
        read_preamble(stream, False)
        meta = _read_file_meta_info(stream)
        if meta.get("TransferSyntaxUID") == pydicom.uid.DeflatedExplicitVRLittleEndian:
            data = _inflate_dataset(data, meta, stream.tell(), cap=inflated_cap(max_pixels))
        return pydicom.dcmread(io.BytesIO(data))
    except DicomError:
        raise
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DicomError(
            "The DICOM file is damaged: its header cannot be read.", "corrupt"
        ) from exc


def _inflate_dataset(data: bytes, meta, meta_end: int, *, cap: int) -> bytes:
    """The same file with its dataset inflated and labelled Explicit VR Little Endian.

    pydicom inflates the whole rest of the file before looking at it; here inflating
    stops as soon as the output passes ``cap``: a few MB of deflated zeros may
    declare gigabytes.
    """
    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    body = inflater.decompress(data[meta_end:], cap + 1)
    if len(body) > cap:
        raise DicomError(
            f"The deflated DICOM file expands to more than {cap:,} bytes, "
            "more than one slice at the pixel limit needs.",
            "too_large",
        )
    meta = pydicom.dataset.FileMetaDataset(meta)
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    header = DicomBytesIO()
    write_file_meta_info(header, meta, enforce_standard=False)
    return data[: DICOM_PREAMBLE_END + 4] + header.getvalue() + body


def _check_budget(dataset, *, max_pixels: int) -> None:
    """Refuse what the header declares beyond one greyscale slice within the limit."""
    frames = _header_int(dataset, "NumberOfFrames", default=1)
    if frames > 1:
        raise DicomError(
            f"The DICOM file holds {frames} frames; upload one slice per file.", "unsupported"
        )
    samples = _header_int(dataset, "SamplesPerPixel", default=1)
    if samples != 1:
        raise DicomError(
            f"Only greyscale DICOM is read (this one has {samples} samples per pixel).",
            "unsupported",
        )
    bits = _header_int(dataset, "BitsAllocated", default=0)
    if bits not in (8, 16):
        raise DicomError(
            f"Only 8- or 16-bit DICOM is read (this one has {bits} bits per sample).",
            "unsupported",
        )
    rows, columns = _header_int(dataset, "Rows"), _header_int(dataset, "Columns")
    if rows < 1 or columns < 1:
        raise DicomError(
            "The DICOM file is damaged: its header declares an empty image.", "corrupt"
        )
    if rows * columns > max_pixels:
        raise DicomError(
            f"The image has {columns}x{rows} pixels; the limit is {max_pixels:,} pixels.",
            "too_large",
            pixels=rows * columns,
        )


def _header_int(dataset, keyword: str, *, default: int | None = None) -> int:
    """A numeric header field as a plain integer; text, NaN or a fraction is damage."""
    value = _get(dataset, keyword)
    if value in (None, "") and default is not None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise DicomError(
            f"The DICOM file is damaged: its {keyword} is not a whole number.", "corrupt"
        )
    return int(number)


def _hounsfield(dataset) -> np.ndarray:
    """The slice's pixels through its modality LUT, as a float64 array of its own."""
    from pydicom.pixels import apply_modality_lut

    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in dataset and _finite(_get(dataset, keyword)) is None:
            raise DicomError(
                f"The DICOM file is damaged: its {keyword} is not a number.", "corrupt"
            )
    try:
        pixels = dataset.pixel_array
    except Exception as exc:
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is not None and not syntax.is_compressed:
            message = "The DICOM pixel data does not match its header: the file is damaged."
            raise DicomError(message, "corrupt") from exc
        name = getattr(syntax, "name", syntax) or "unknown"
        raise DicomError(
            f"The DICOM image is compressed as {name}, which cannot be decoded here, or its "
            "pixel data is damaged. Export it uncompressed or as JPEG/PNG.",
            "unsupported",
        ) from exc
    if pixels.ndim != 2:
        raise DicomError("The DICOM pixel data is not one greyscale slice.", "unsupported")
    try:
        units = np.array(apply_modality_lut(pixels, dataset), dtype=np.float64)
    except Exception as exc:  # a LUT shorter than its descriptor, a LUT of text ...
        raise DicomError(
            "The DICOM file is damaged: its modality LUT does not fit its pixels.", "corrupt"
        ) from exc
    if units.shape != pixels.shape or not np.isfinite(units).all():
        raise DicomError(
            "The DICOM file is damaged: its modality LUT does not fit its pixels.", "corrupt"
        )
    return units


def _get(dataset, keyword: str):
    """A header value; one pydicom cannot even convert (text in a number) is damage."""
    try:
        return dataset.get(keyword)
    except Exception as exc:
        raise DicomError(
            f"The DICOM file is damaged: its {keyword} cannot be read.", "corrupt"
        ) from exc


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _kept_fields(dataset, window: Window) -> dict:
    """What the pages show; a field that is not a finite number is left out (None)."""
    try:
        spacing = [_finite(v) for v in _get(dataset, "PixelSpacing") or ()]
    except (DicomError, TypeError):  # unreadable, or one value, not a list
        spacing = None
    return {
        "modality": _text(_optional(dataset, "Modality")),
        "study_date": _text(_optional(dataset, "StudyDate")),
        "slice_thickness_mm": _finite(_optional(dataset, "SliceThickness")),
        "pixel_spacing_mm": spacing if spacing and None not in spacing else None,
        "window": asdict(window),
    }


def _optional(dataset, keyword: str):
    try:
        return _get(dataset, keyword)
    except DicomError:
        return None


def _text(value) -> str | None:
    if value in (None, ""):
        return None
    return str(value)[:64] or None
