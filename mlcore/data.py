"""Finding, downloading, splitting and decoding the kidney CT data set."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mlcore.preprocessing import ImageError, load_views

CLASS_NAMES = ("Cyst", "Normal", "Stone", "Tumor")
KAGGLE_DATASET = "nazmul0087/ct-kidney-dataset-normal-cyst-tumor-and-stone"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Patient blocks for cross-validation (split_by_blocks). In the Kaggle numbering a
# patient's slices are consecutive but for numbers removed as duplicates or held
# back (jumps of 2-5 inside one patient are common); jumps of tens to hundreds
# separate patients.
BLOCK_GAP = 10
MAX_BLOCK = 60
FOLD_MARGIN = 5


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
    # Neighbours of held-out slices kept out of training (likely the same patient).
    left_out: list[LabeledImage] = field(default_factory=list)


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
            items.append(LabeledImage(file, label, _file_number(file, default=position)))
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


def patient_blocks(
    items: Sequence[LabeledImage], *, gap: int = BLOCK_GAP, max_block: int = MAX_BLOCK
) -> list[list[LabeledImage]]:
    """Cut each class's images, in number order, into blocks of likely one patient or few.

    A jump of more than ``gap`` numbers starts a new block (a gap in the numbering
    usually separates patients); a run longer than ``max_block`` numbers is cut
    into equal blocks, so that one long run cannot fill a whole fold.
    """
    blocks = []
    for label in sorted({i.label for i in items}):
        members = sorted((i for i in items if i.label == label), key=lambda i: i.number)
        runs: list[list[LabeledImage]] = []
        for item in members:
            if runs and item.number - runs[-1][-1].number <= gap:
                runs[-1].append(item)
            else:
                runs.append([item])
        for run in runs:
            span = run[-1].number - run[0].number + 1
            pieces = math.ceil(span / max_block)
            size = span / pieces
            for piece in range(pieces):
                low = run[0].number + piece * size
                high = low + size
                block = [i for i in run if low <= i.number < high]
                if block:
                    blocks.append(block)
    return blocks


def split_by_blocks(
    items: Sequence[LabeledImage],
    folds: int,
    fold: int,
    *,
    gap: int = BLOCK_GAP,
    max_block: int = MAX_BLOCK,
    margin: int = FOLD_MARGIN,
) -> Split:
    """Patient-block cross-validation: hold out fold ``fold`` of ``folds``.

    Each class's blocks (:func:`patient_blocks`) are dealt out in number order, one
    per fold and round (see :func:`assign_folds`): every fold spans the whole range
    of numbers of every folder, and the folds are about equal.
    Training slices of the same class within ``margin`` numbers of a held-out one
    are left out of training for this fold (they may be the same patient).
    """
    if folds < 2:
        raise DatasetError("Cross-validation needs at least 2 folds.")
    if not 0 <= fold < folds:
        raise DatasetError(f"There is no fold {fold}: {folds} folds are numbered 0-{folds - 1}.")
    assignment = assign_folds(items, folds, gap=gap, max_block=max_block)
    validation = [i for i in items if assignment[i] == fold]
    held = {}
    for item in validation:
        held.setdefault(item.label, []).append(item.number)
    train, left_out = [], []
    for item in items:
        if assignment[item] == fold:
            continue
        near = held.get(item.label, [])
        if near and min(abs(item.number - n) for n in near) <= margin:
            left_out.append(item)
        else:
            train.append(item)
    return Split(train, validation, left_out)


def assign_folds(
    items: Sequence[LabeledImage],
    folds: int,
    *,
    gap: int = BLOCK_GAP,
    max_block: int = MAX_BLOCK,
) -> dict[LabeledImage, int]:
    """Which fold holds out each image (see :func:`split_by_blocks`)."""
    assignment: dict[LabeledImage, int] = {}
    blocks = patient_blocks(items, gap=gap, max_block=max_block)
    for label in sorted({block[0].label for block in blocks}):
        mine = [block for block in blocks if block[0].label == label]
        filled = [0] * folds
        # Deal in rounds of one block per fold, in number order, so that every fold
        # spans the whole numbering; within a round the largest block goes to the
        # fold holding the fewest images so far, so that the folds stay about equal.
        for start in range(0, len(mine), folds):
            round_ = sorted(mine[start : start + folds], key=len, reverse=True)
            emptiest = sorted(range(folds), key=lambda k: (filled[k], k))
            for block, fold in zip(round_, emptiest, strict=False):
                filled[fold] += len(block)
                for item in block:
                    assignment[item] = fold
    return assignment


def split_items(
    items: Sequence[LabeledImage],
    *,
    val_fraction: float,
    val_fold: int = 0,
    folds: int = 0,
    num_classes: int = len(CLASS_NAMES),
) -> Split:
    """The held-out split a version is trained with: fold ``val_fold`` of patient-block
    cross-validation when ``folds`` >= 2, else the ``val_fraction`` block of numbers."""
    if folds:
        return split_by_blocks(items, folds, val_fold)
    return split_by_number(items, val_fraction, fold=val_fold, num_classes=num_classes)


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
    body_mask: bool = False,
    body_crop: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> DecodedImages:
    """Preprocess every image once, as a network trained with ``body_mask`` /
    ``body_crop`` reads it; unreadable files are skipped and reported, not fatal."""
    return decode_views(
        items, image_size, body_mask=body_mask, body_crop=body_crop, progress=progress
    )[1]


def decode_views(
    items: Sequence[LabeledImage],
    image_size: int,
    *,
    body_mask: bool = False,
    body_crop: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[DecodedImages, DecodedImages]:
    """(whole slices, network inputs) from one decoding of every image
    (mlcore.preprocessing.load_views): the not-a-CT check reads the first, the network
    the second; unreadable files are skipped in both and reported."""
    wholes, inputs, labels, paths, skipped = [], [], [], [], []
    for index, item in enumerate(items):
        try:
            views = load_views(item.path, image_size, body_mask=body_mask, body_crop=body_crop)
        except ImageError as exc:
            skipped.append((item.path, str(exc)))
        else:
            wholes.append(views.whole)
            inputs.append(views.model_input)
            labels.append(item.label)
            paths.append(item.path)
        if progress:
            progress(index + 1, len(items))
    shape = (0, image_size, image_size, 3)
    label_array = np.asarray(labels, dtype=np.int64)

    def decoded(arrays: list[np.ndarray]) -> DecodedImages:
        images = np.stack(arrays) if arrays else np.zeros(shape, np.float32)
        return DecodedImages(images, label_array, list(paths), list(skipped))

    return decoded(wholes), decoded(inputs)


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


def _pixel_digest(path: Path) -> bytes | None:
    try:
        with Image.open(path) as image:
            image.load()
            digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
            digest.update(image.tobytes())
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return digest.digest()


def _file_number(path: Path, *, default: int) -> int:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else default


def _natural_key(path: Path) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
