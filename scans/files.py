"""Serving a scan's stored files (image, thumbnail, heatmap) to whoever may see it:
never from a public URL, always through a view that checked access first."""

from __future__ import annotations

from pathlib import PurePath

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils.translation import gettext

from scans.models import Scan

# By the stored file's suffix: uploads are kept as PNG; scans stored before that
# kept a JPEG upload as it came.
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def image_content_type(scan: Scan) -> str | None:
    return CONTENT_TYPES.get(PurePath(scan.image.name).suffix.lower())


def private_file(field: FieldFile, content_type: str | None) -> FileResponse:
    """The file inline, or 404 when its file is gone from the storage."""
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404(gettext("The stored file is missing.")) from None
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = "inline"
    return response
