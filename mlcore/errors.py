"""The confident errors of a cross-validation, to be looked at.

A balanced accuracy says how often the model is wrong on patients it never saw, not
on what. :func:`confident_errors` picks, from a cross-validation's fold records, the
wrong out-of-fold readings the model was surest of, one per run of misread
neighbours (slices of one class and data folder whose file numbers are at most
:data:`mlcore.splits.BLOCK_GAP` apart: one patient, likely), so that one patient's
forty misread slices do not fill the page and a reader sees how many patients are
misread, and how. :func:`error_sheet` draws them, each with its true class, what it
was read as, how sure the reading was, and its run. Refused slices are left out: a
refusal is not a reading.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlcore import data
from mlcore.preprocessing import load_views
from mlcore.splits import BLOCK_GAP
from mlcore.subgroups import recorded_file

# The sheet's tiles: slice side, columns, caption lines.
TILE = 192
COLUMNS = 4
PAD = 6
FONT_SIZE = 12
CAPTION_LINES = 4


@dataclass(frozen=True)
class ConfidentError:
    path: str  # as recorded: <data folder>/<class>/<file>
    fold: int
    label: str
    reading: str
    # The recorded probability of the reading, the fold's network(s) as they are:
    # before the temperature a shipped version applies (docs/model-card.md,
    # "Confidence, 'uncertain' and refusals").
    confidence: float
    first: int  # file numbers of the first and last misread slice of its run
    last: int
    run_size: int  # how many slices of the run were misread

    @property
    def span(self) -> str:
        """Its run's file numbers: "305-342", or "992" for a run of one."""
        return f"{self.first}-{self.last}" if self.first != self.last else str(self.first)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "fold": self.fold,
            "label": self.label,
            "reading": self.reading,
            "confidence": round(self.confidence, 4),
            "run": {"first": self.first, "last": self.last, "misread": self.run_size},
        }


def confident_errors(
    records: Sequence[dict], *, count: int = 12, gap: int = BLOCK_GAP
) -> list[ConfidentError]:
    """The ``count`` surest wrong readings in ``records`` (one cross-validation's fold
    records), surest first, at most one per run of misread neighbours: wrong readings
    of one class and folder whose file numbers are at most ``gap`` apart."""
    if not records:
        raise data.DatasetError("No fold records to look at.")
    class_names = list(records[0]["recipe"]["class_names"])
    series: dict[tuple[str, int], list[tuple[int, int, dict, int]]] = defaultdict(list)
    for record in records:
        for prediction in record["predictions"]:
            reading = int(np.argmax(prediction["probabilities"]))
            if prediction.get("refused") or reading == prediction["label"]:
                continue
            folder = prediction["path"].split("/", 1)[0]
            number = data.file_number(Path(prediction["path"]), default=0)
            series[(folder, prediction["label"])].append(
                (number, record["fold"], prediction, reading)
            )
    picked = []
    for wrong in series.values():
        wrong.sort(key=lambda row: row[0])
        runs: list[list[tuple[int, int, dict, int]]] = []
        for row in wrong:
            if runs and row[0] - runs[-1][-1][0] <= gap:
                runs[-1].append(row)
            else:
                runs.append([row])
        for run in runs:
            _, fold, prediction, reading = max(
                run, key=lambda row: (row[2]["probabilities"][row[3]], -row[0])
            )
            picked.append(
                ConfidentError(
                    path=prediction["path"],
                    fold=fold,
                    label=class_names[prediction["label"]],
                    reading=class_names[reading],
                    confidence=float(prediction["probabilities"][reading]),
                    first=run[0][0],
                    last=run[-1][0],
                    run_size=len(run),
                )
            )
    picked.sort(key=lambda error: (-error.confidence, error.path))
    return picked[:count]


def error_sheet(
    errors: Sequence[ConfidentError],
    roots: Sequence[Path],
    *,
    planes: dict[str, str] | None = None,
) -> bytes:
    """A PNG: each error's whole slice (as the not-a-CT check reads it, unmasked) in a
    red frame, captioned with its true class and reading, the reading's probability,
    its folder, file number and run of misread neighbours, its fold and (``planes``
    given: by recorded path) its plane."""
    from PIL import Image, ImageDraw, ImageFont

    if not errors:
        raise data.DatasetError("No wrong readings to draw.")
    font = ImageFont.load_default(size=FONT_SIZE)
    caption = CAPTION_LINES * (FONT_SIZE + 3) + PAD
    rows = -(-len(errors) // COLUMNS)
    columns = min(COLUMNS, len(errors))
    sheet = Image.new(
        "RGB", (PAD + columns * (TILE + PAD), PAD + rows * (TILE + caption + PAD)), "white"
    )
    draw = ImageDraw.Draw(sheet)
    for index, error in enumerate(errors):
        file = recorded_file(error.path, roots)
        whole = load_views(file, TILE).whole
        left = PAD + (index % COLUMNS) * (TILE + PAD)
        top = PAD + (index // COLUMNS) * (TILE + caption + PAD)
        sheet.paste(Image.fromarray((np.clip(whole, 0, 1) * 255).astype(np.uint8)), (left, top))
        draw.rectangle(
            (left - 2, top - 2, left + TILE + 1, top + TILE + 1), outline=(230, 40, 40), width=2
        )
        folder = error.path.split("/", 1)[0]
        lines = (
            f"{error.label} read as {error.reading}, {error.confidence * 100:.0f} %",
            f"{folder} {data.file_number(Path(error.path), default=0)}, fold {error.fold}",
            f"{error.run_size} misread in {error.span}",
            *([planes[error.path]] if planes else []),
        )
        for line_index, line in enumerate(lines):
            draw.text(
                (left, top + TILE + 4 + line_index * (FONT_SIZE + 3)), line, fill="black", font=font
            )
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    return buffer.getvalue()
