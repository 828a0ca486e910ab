"""Synthetic images, DICOM slices, class-folder data sets and uploads for tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from mlcore.data import CLASS_NAMES

IMAGES_PER_CLASS = 6
SHIPPED = Path(__file__).resolve().parents[1] / "models"  # the repository's model versions
# models/ keeps the active version and the one before it: tests switch between them.
OLD, NEW = sorted(p.name for p in SHIPPED.iterdir() if p.is_dir())[-2:]


def synthetic_slice(label: int, number: int, size: int = 64) -> Image.Image:
    """A grey disc (the body) with a bright square whose place encodes the class."""
    rng = np.random.default_rng(label * 1000 + number)
    y, x = np.mgrid[:size, :size]
    pixels = np.where((x - size / 2) ** 2 + (y - size / 2) ** 2 < (size * 0.45) ** 2, 90.0, 0.0)
    row, col = divmod(label, 2)
    top, left = 8 + row * size // 2, 8 + col * size // 2
    pixels[top : top + size // 5, left : left + size // 5] = 250
    pixels += rng.normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def off_centre_slice_png(width: int = 512, height: int = 512) -> bytes:
    """A dark frame holding a grey body (an ellipse in the upper left part, so a crop
    has to move), a bright organ inside it and a table line below it."""
    y, x = np.mgrid[:height, :width]
    cx, cy, rx, ry = 0.4 * width, 0.4 * height, 0.25 * width, 0.2 * height
    grey = np.zeros((height, width), np.uint8)
    grey[((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1] = 90
    grey[((x - cx) / (rx / 4)) ** 2 + ((y - cy) / (ry / 4)) ** 2 <= 1] = 220
    grey[int(0.75 * height) : int(0.75 * height) + 3, 20 : width - 20] = 160  # table
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")
    return buffer.getvalue()


def encode(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def write_dataset(root: Path, per_class: int = IMAGES_PER_CLASS) -> Path:
    """Class folders named like the Kaggle set: Cyst/Cyst- (1).jpg ..."""
    for label, name in enumerate(CLASS_NAMES):
        folder = root / name
        folder.mkdir(parents=True)
        for number in range(1, per_class + 1):
            synthetic_slice(label, number).save(folder / f"{name}- ({number}).jpg", quality=95)
    return root


BLOCK_NUMBERS = (1, 2, 3, 4, 40, 41, 42, 43)  # two blocks of numbers (patients) per class


def write_blocks(root: Path) -> Path:
    """Class folders of two patients each (file-number blocks 1-4 and 40-43): the
    least that patient-block cross-validation can cut into two folds."""
    for label, name in enumerate(CLASS_NAMES):
        (root / name).mkdir(parents=True)
        for number in BLOCK_NUMBERS:
            synthetic_slice(label, number).save(root / name / f"{name}- ({number}).jpg")
    return root


def upload_file(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def hounsfield_slice(size: int = 64) -> np.ndarray:
    """Air (-1000 HU) around a soft-tissue disc (40 HU) holding a bright stone (600 HU)."""
    y, x = np.mgrid[:size, :size]
    units = np.full((size, size), -1000.0)
    units[(x - size / 2) ** 2 + (y - size / 2) ** 2 < (size * 0.4) ** 2] = 40.0
    units[size // 2 - 3 : size // 2 + 3, size // 3 : size // 3 + 6] = 600.0
    return units


def ct_dicom(
    units: np.ndarray,
    *,
    slope: float = 1.0,
    intercept: float = -1024.0,
    photometric: str = "MONOCHROME2",
    frames: int = 1,
    syntax=ExplicitVRLittleEndian,
    patient: str = "Doe^Jane",
) -> bytes:
    """A 16-bit CT slice: stored = (HU - intercept) / slope, as scanners do."""
    stored = np.round((units - intercept) / slope).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient, "ID-123", "19600101"
    ds.Modality, ds.StudyDate = "CT", "20260301"
    ds.SliceThickness, ds.PixelSpacing = "5.0", ["0.7", "0.7"]
    ds.Rows, ds.Columns = units.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = str(slope), str(intercept)
    if syntax != ExplicitVRLittleEndian:  # compressed: one encapsulated frame
        ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 64])
        ds["PixelData"].VR = "OB"
    elif frames > 1:
        ds.NumberOfFrames = frames
        ds.PixelData = np.stack([stored] * frames).tobytes()
    else:
        ds.PixelData = stored.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def expected_grey(units: np.ndarray, level: float = 40, width: float = 400) -> np.ndarray:
    low = level - width / 2
    return np.round(np.clip((units - low) / width, 0, 1) * 255).astype(np.uint8)
