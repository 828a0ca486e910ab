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
from PIL import Image

from mlcore.preprocessing import ImageError, View, load_views

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
class Deduplicated:
    kept: list[LabeledImage]
    # (dropped copy, the copy kept); identical pixels under two numbers of one class.
    duplicates: list[tuple[LabeledImage, LabeledImage]]
    # Identical pixels filed under two classes: every copy is dropped (no true label).
    conflicts: list[LabeledImage]


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
            items.append(LabeledImage(file, label, file_number(file, default=position)))
    return items


def list_images_in(
    folders: Sequence[str | os.PathLike], class_names: Sequence[str] = CLASS_NAMES
) -> tuple[list[Path], list[LabeledImage]]:
    """Pool the images of several data folders per class: (their roots, the images).

    The folders share one numbering (the Kaggle set's file numbers), so a number
    means the same place in acquisition order whichever folder holds it.
    """
    if not folders:
        raise DatasetError("No data folder given.")
    roots = [find_dataset_root(folder, class_names) for folder in folders]
    if len(set(roots)) < len(roots):
        raise DatasetError("The same data folder is given twice.")
    items = [item for root in roots for item in list_images(root, class_names)]
    items.sort(key=lambda i: (i.label, i.number, str(i.path)))
    return roots, items


def drop_duplicates(items: Sequence[LabeledImage]) -> Deduplicated:
    """Keep one copy of every image stored more than once, compared by pixels.

    The Kaggle set stores whole runs of slices twice under two numbers; a copy on
    each side of a split would be memory, not reading. The lowest number is kept.
    Files that cannot be decoded are kept here (decoding reports them later).
    """
    first: dict[bytes, LabeledImage] = {}
    digests: dict[LabeledImage, bytes | None] = {}
    duplicates, conflicting = [], set()
    for item in sorted(items, key=lambda i: (i.label, i.number, str(i.path))):
        key = digests[item] = _pixel_digest(item.path)
        if key is None:
            continue
        seen = first.setdefault(key, item)
        if seen is item:
            continue
        if seen.label == item.label:
            duplicates.append((item, seen))
        else:
            conflicting.add(key)
    dropped = {copy for copy, _ in duplicates}
    conflicts = [i for i in items if digests[i] in conflicting]
    gone = dropped | set(conflicts)
    return Deduplicated([i for i in items if i not in gone], duplicates, conflicts)


def decode_images(
    items: Sequence[LabeledImage],
    image_size: int,
    *,
    body_mask: bool = False,
    body_crop: bool = False,
    views: Sequence[View] = (),
    progress: Callable[[int, int], None] | None = None,
) -> DecodedImages:
    """Preprocess every image once, as a network trained with ``body_mask`` /
    ``body_crop`` reads it (or the networks of ``views``, stacked: load_views);
    unreadable files are skipped and reported, not fatal."""
    return decode_views(
        items,
        image_size,
        body_mask=body_mask,
        body_crop=body_crop,
        views=views,
        progress=progress,
    )[1]


def decode_views(
    items: Sequence[LabeledImage],
    image_size: int,
    *,
    body_mask: bool = False,
    body_crop: bool = False,
    views: Sequence[View] = (),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[DecodedImages, DecodedImages]:
    """(whole slices, network inputs) from one decoding of every image
    (mlcore.preprocessing.load_views): the not-a-CT check reads the first, the network
    the second; unreadable files are skipped in both and reported."""
    wholes, inputs, labels, paths, skipped = [], [], [], [], []
    for index, item in enumerate(items):
        try:
            read = load_views(
                item.path, image_size, body_mask=body_mask, body_crop=body_crop, views=views
            )
        except ImageError as exc:
            skipped.append((item.path, str(exc)))
        else:
            wholes.append(read.whole)
            inputs.append(read.model_input)
            labels.append(item.label)
            paths.append(item.path)
        if progress:
            progress(index + 1, len(items))
    label_array = np.asarray(labels, dtype=np.int64)

    def decoded(arrays: list[np.ndarray], stacked: int) -> DecodedImages:
        shape = (0, *([stacked] if stacked else []), image_size, image_size, 3)
        images = np.stack(arrays) if arrays else np.zeros(shape, np.float32)
        return DecodedImages(images, label_array, list(paths), list(skipped))

    return decoded(wholes, 0), decoded(inputs, len(views))


def class_weights(labels: np.ndarray, num_classes: int = len(CLASS_NAMES)) -> dict[int, float]:
    """Weights inversely proportional to class frequency ("balanced"), mean 1."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {label: float(w) for label, w in enumerate(weights)}


def slice_weights(
    labels: np.ndarray,
    folders: np.ndarray,
    num_classes: int = len(CLASS_NAMES),
) -> np.ndarray:
    """Per-slice loss weights: each class weighted as :func:`class_weights` weights it,
    and within a class each data folder (``folders``: the folder's index per slice)
    weighted so that every folder present in the class counts as much as another. A
    class's total weight stays what :func:`class_weights` gives it."""
    labels, folders = np.asarray(labels), np.asarray(folders)
    by_class = class_weights(labels, num_classes)
    weights = np.zeros(len(labels))
    for label in np.unique(labels):
        in_class = labels == label
        _, which, counts = np.unique(folders[in_class], return_inverse=True, return_counts=True)
        share = in_class.sum() / (len(counts) * counts[which])
        weights[in_class] = by_class[int(label)] * share
    return weights


def folder_indices(paths: Sequence[Path], roots: Sequence[Path]) -> np.ndarray:
    """Which of ``roots`` (data folders) each path lies in, by index."""
    indices = []
    for path in paths:
        found = [index for index, root in enumerate(roots) if root in Path(path).parents]
        if not found:
            raise DatasetError(f"{path} lies in none of the data folders.")
        indices.append(found[0])
    return np.asarray(indices, dtype=np.int64)


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


def _pixel_digest(path: Path) -> bytes | None:
    try:
        with Image.open(path) as image:
            image.load()
            digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
            digest.update(image.tobytes())
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return digest.digest()


def file_number(path: Path, *, default: int) -> int:
    """The number in a file's name (``Tumor- (305).jpg``: 305), its position in
    acquisition order; ``default`` for a name without one."""
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else default


def _natural_key(path: Path) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
