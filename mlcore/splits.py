"""Held-out splits: patient-block cross-validation folds, and the block of file
numbers a single version holds out.

Neighbouring file numbers are slices of one patient: a random shuffle would put
them on both sides of a split and report inflated accuracy, so every split here
cuts the numbering into blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlcore.data import CLASS_NAMES, DatasetError, LabeledImage

# Patient blocks for cross-validation (split_by_blocks). In the Kaggle numbering a
# patient's slices are consecutive but for numbers removed as duplicates or held
# back (jumps of 2-5 inside one patient are common); jumps of tens to hundreds
# separate patients.
BLOCK_GAP = 10
MAX_BLOCK = 60
FOLD_MARGIN = 5


@dataclass
class Split:
    train: list[LabeledImage]
    validation: list[LabeledImage]
    # Neighbours of held-out slices kept out of training (likely the same patient).
    left_out: list[LabeledImage] = field(default_factory=list)


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
