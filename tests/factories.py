"""Synthetic images, class-folder data sets and uploads for tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from mlcore.data import CLASS_NAMES

IMAGES_PER_CLASS = 6
SHIPPED = Path(__file__).resolve().parents[1] / "models"  # the repository's model versions
OLD, NEW = "20261126-153052", "20261126-161846"


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


def upload_file(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
