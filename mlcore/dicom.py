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
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

DICOM_PREAMBLE_END = 128
DICOM_MAGIC = b"DICM"


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

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind  # "unsupported", "corrupt" or "too_large"


def is_dicom(data: bytes) -> bool:
    return data[DICOM_PREAMBLE_END : DICOM_PREAMBLE_END + 4] == DICOM_MAGIC


def read_dicom(data: bytes, *, window: Window = ABDOMEN, max_pixels: int) -> Image.Image:
    """Decode a single-frame greyscale DICOM slice to a windowed 8-bit "L" image.

    The kept header fields are in ``image.info["dicom"]``.
    """
    import pydicom
    from pydicom.pixels import apply_modality_lut

    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DicomError(f"The DICOM file is damaged: {exc}", "corrupt") from exc
    if "PixelData" not in dataset:
        raise DicomError("The DICOM file holds no image.", "unsupported")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise DicomError(
            f"The DICOM file holds {frames} frames; upload one slice per file.", "unsupported"
        )
    rows, columns = int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0))
    if rows * columns > max_pixels:
        raise DicomError(
            f"The image has {columns}x{rows} pixels; the limit is {max_pixels:,} pixels.",
            "too_large",
        )
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(
            f"Only greyscale DICOM is read (this one is {photometric or 'unlabelled'}).",
            "unsupported",
        )
    try:
        pixels = dataset.pixel_array
    except Exception as exc:
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        name = getattr(syntax, "name", syntax) or "unknown"
        raise DicomError(
            f"The DICOM image is compressed as {name}, which cannot be decoded here "
            f"({exc}). Export it uncompressed or as JPEG/PNG.",
            "unsupported",
        ) from exc
    units = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    low = window.level - window.width / 2
    grey = np.round(np.clip((units - low) / window.width, 0.0, 1.0) * 255).astype(np.uint8)
    if photometric == "MONOCHROME1":  # the lowest value is white
        grey = 255 - grey
    image = Image.fromarray(grey, mode="L")
    image.format = "DICOM"
    image.info["dicom"] = _kept_fields(dataset, window)
    return image


def _kept_fields(dataset, window: Window) -> dict:
    def number(value):
        return float(value) if value not in (None, "") else None

    spacing = dataset.get("PixelSpacing")
    return {
        "modality": str(dataset.get("Modality", "")) or None,
        "study_date": str(dataset.get("StudyDate", "")) or None,
        "slice_thickness_mm": number(dataset.get("SliceThickness")),
        "pixel_spacing_mm": [float(v) for v in spacing] if spacing else None,
        "window": asdict(window),
    }
