"""Finding, downloading, splitting and decoding the kidney CT data set."""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlcore.preprocessing import ImageError, load_image

CLASS_NAMES = ("Cyst", "Normal", "Stone", "Tumor")
KAGGLE_DATASET = "nazmul0087/ct-kidney-dataset-normal-cyst-tumor-and-stone"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetError(Exception):
    """The data set cannot be found, downloaded or used."""


@dataclass(frozen=True)
class LabeledImage:
    path: Path
    label: int
    # Position in acquisition order; neighbouring numbers are slices of one patient.
    number: int


@dataclass
class Split:
    train: list[LabeledImage]
    validation: list[LabeledImage]


@dataclass
class DecodedImages:
    images: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def find_dataset_root(path: str | os.PathLike, class_names: Sequence[str] = CLASS_NAMES) -> Path:
    """Walk down from ``path`` to the first folder that holds every class folder."""
    start = Path(path).resolve()
    if not start.is_dir():
        raise DatasetError(f"Data folder {start} does not exist.")
    wanted = set(class_names)
    for folder, subfolders, _ in sorted(os.walk(start)):
        if wanted <= set(subfolders):
            return Path(folder)
    raise DatasetError(
        f"No folder under {start} holds all class folders ({', '.join(class_names)})."
    )


def download_dataset(handle: str = KAGGLE_DATASET) -> Path:
    """Download the Kaggle data set with kagglehub and return its local folder."""
    import kagglehub

    try:
        return Path(kagglehub.dataset_download(handle))
    except Exception as exc:
        raise DatasetError(
            f"Could not download {handle} from Kaggle ({type(exc).__name__}); this needs an "
            "internet connection (and Kaggle credentials for some set-ups). Download it "
            "elsewhere and pass the folder with --data-dir instead."
        ) from exc


def list_images(root: Path, class_names: Sequence[str] = CLASS_NAMES) -> list[LabeledImage]:
    """Every image file under root/<class>/, labelled by the index of its class."""
    items = []
    for label, name in enumerate(class_names):
        files = sorted(
            (p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        for position, file in enumerate(files):
            items.append(LabeledImage(file, label, _file_number(file, default=position)))
    return items


def split_by_number(
    items: Sequence[LabeledImage],
    val_fraction: float,
    *,
    fold: int = 0,
    num_classes: int = len(CLASS_NAMES),
) -> Split:
    """Hold out one contiguous block of file numbers of each class for validation.

    A random shuffle would put neighbouring slices of the same patient on both
    sides and report inflated accuracy, so each class is cut by number. Fold 0
    (the default) holds out the highest-numbered block, fold 1 the block just
    below it, and so on: with a fraction of 0.2, folds 0-4 hold out each fifth
    once, for cross-validation. A middle fold has two cuts instead of one.
    """
    if not 0 <= val_fraction < 1:
        raise DatasetError("The validation fraction must be at least 0 and below 1.")
    if fold < 0 or (fold and not val_fraction):
        raise DatasetError("The validation fold must be 0 or more (0 without validation).")
    train, validation = [], []
    for label in range(num_classes):
        members = sorted((i for i in items if i.label == label), key=lambda i: i.number)
        n_val = round(len(members) * val_fraction)
        if val_fraction > 0 and members:
            n_val = max(n_val, 1)
        end = len(members) - fold * n_val
        begin = end - n_val
        if begin < 0:
            folds = len(members) // n_val
            raise DatasetError(
                f"There is no validation fold {fold}: the validation fraction "
                f"{val_fraction} gives folds 0-{folds - 1}."
            )
        train += members[:begin] + members[end:]
        validation += members[begin:end]
    return Split(train, validation)


def decode_images(
    items: Sequence[LabeledImage],
    image_size: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> DecodedImages:
    """Preprocess every image once; unreadable files are skipped and reported, not fatal."""
    arrays, labels, paths, skipped = [], [], [], []
    for index, item in enumerate(items):
        try:
            arrays.append(load_image(item.path, image_size))
        except ImageError as exc:
            skipped.append((item.path, str(exc)))
        else:
            labels.append(item.label)
            paths.append(item.path)
        if progress:
            progress(index + 1, len(items))
    shape = (0, image_size, image_size, 3)
    images = np.stack(arrays) if arrays else np.zeros(shape, np.float32)
    return DecodedImages(images, np.asarray(labels, dtype=np.int64), paths, skipped)


def class_weights(labels: np.ndarray, num_classes: int = len(CLASS_NAMES)) -> dict[int, float]:
    """Weights inversely proportional to class frequency ("balanced"), mean 1."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {label: float(w) for label, w in enumerate(weights)}


def class_counts(
    items: Sequence[LabeledImage], class_names: Sequence[str] = CLASS_NAMES
) -> dict[str, int]:
    counts = Counter(item.label for item in items)
    return {name: counts.get(label, 0) for label, name in enumerate(class_names)}


def fingerprint(items: Sequence[LabeledImage]) -> str:
    """SHA-256 over the relative paths, labels and bytes of the images, in order."""
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: (i.label, i.number, str(i.path))):
        digest.update(f"{item.label}:{item.path.name}:".encode())
        digest.update(hashlib.sha256(item.path.read_bytes()).digest())
    return digest.hexdigest()


def _file_number(path: Path, *, default: int) -> int:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else default


def _natural_key(path: Path) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
