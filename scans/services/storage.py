"""A scan's files: written whole or not at all, removed with their row."""

from __future__ import annotations

import contextlib

from django.core.files.base import ContentFile
from django.db.models.fields.files import FieldFile

from scans.models import Scan


def file_save(*, field: FieldFile, filename: str, data: bytes) -> None:
    """``field.save(filename, data, save=False)``, except that a write that fails (disk
    full, read-only) leaves no partial file: FileSystemStorage does not remove it.
    The name is a fresh random path (``upload_to``), so it is the failed write's own."""
    name = field.field.generate_filename(field.instance, filename)
    try:
        field.name = field.storage.save(name, ContentFile(data), max_length=field.field.max_length)
    except OSError:
        with contextlib.suppress(OSError):
            field.storage.delete(name)
        raise


def scan_files_delete(*, scan: Scan) -> None:
    """Remove the scan's image and thumbnail (its heatmaps belong to its predictions)."""
    for field in (scan.image, scan.thumbnail):
        if field.name:
            field.storage.delete(field.name)
