"""Drawn slices of either plane, for the tests of mlcore.subgroups."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def axial_slice(path: Path) -> Path:
    """A grey ellipse (the body) on black, the table's bright arc below it."""
    image = Image.new("L", (256, 256))
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 60, 226, 190), fill=120)
    draw.arc((-60, 200, 316, 400), 200, 340, fill=200, width=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def coronal_slice(path: Path) -> Path:
    """A grey trunk from the top of the frame to its bottom, a brighter spine in it."""
    image = Image.new("L", (256, 256))
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 0, 206, 255), fill=110)
    draw.rectangle((118, 0, 138, 255), fill=230)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
