"""Uploads, from file to deletion: each file checked by its content, re-encoded as
pixels only, stored as a queued scan with its audit event and sent to be read; its
note changed and the scan deleted with its files (pages, API and admin alike)."""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import zlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image

from mlcore.dicom import ABDOMEN, Window
from mlcore.preprocessing import ImageError, ImageTooLargeError, open_image, to_rgb_or_grey
from scans.audit import audit_record
from scans.models import AuditEvent, Review, Scan
from scans.services.readings import scan_enqueue
from scans.services.storage import file_save, scan_files_delete
from scans.uploads import foreign_content

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (160, 160)
# Reasons as the user reads them: plain sentences, never an exception's own text.
STORAGE_FAILED = _(
    "The server could not store the file ({}); nothing was kept. "
    "Try again later, or tell an administrator if it happens again."
)
# Why the store refused a write, by the error's number; anything else: STORAGE_ERROR.
STORAGE_CAUSES = {
    errno.ENOSPC: _("its disk is full"),
    errno.EDQUOT: _("its storage quota is used up"),
    errno.EROFS: _("its storage is read-only"),
    errno.EACCES: _("it may not write to its storage"),
    errno.EPERM: _("it may not write to its storage"),
}
STORAGE_ERROR = _("a storage error")
UNREADABLE = _(
    "The file could not be read as an image: it may be damaged or use a variant this "
    "server does not read. Export the slice again as JPEG, PNG or uncompressed DICOM."
)
TOO_LARGE = _("The file is larger than the {} limit.")
OVER_BUDGET = _(
    "With it, this upload would hold more than {} pixels, the most one upload may "
    "hold: send this file in another upload."
)
FOREIGN = _(
    "The file holds something besides the image: {} Export the slice again as a plain image."
)


class UploadRejected(Exception):
    """One uploaded file is not accepted; the message says why, for the user."""

    def __init__(self, name: str, reason: str, *, server_fault: bool = False):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.server_fault = server_fault  # the server could not keep it, not the file's fault


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    data: bytes  # as uploaded: its size and SHA-256 are recorded
    stored: bytes  # what is kept: the upload, or for DICOM the windowed slice as PNG
    image_format: str
    width: int
    height: int
    thumbnail: bytes
    dicom: dict | None = None


def upload_check(
    upload: UploadedFile, *, window: Window = ABDOMEN, pixels_left: int | None = None
) -> CheckedUpload:
    """Validate one upload by its content; raise UploadRejected with a reason otherwise.

    The size is checked before the file is read: Django has already streamed a
    large upload to a temporary file, and it is never loaded into memory. The
    pixel count comes from the header before anything is decoded (mlcore).
    What is kept is a PNG of the decoded pixels and nothing else (no metadata,
    chunk or trailing byte of the upload survives); the SHA-256 is the upload's.
    A DICOM file is never stored: its header carries the patient's identity.
    Any failure while reading refuses this file only, with a plain reason.
    ``pixels_left``: what is left of the request's pixel budget.
    """
    name = PurePath(upload.name or "unnamed").name[:255] or "unnamed"
    limit = settings.MAX_UPLOAD_BYTES
    if upload.size is None or upload.size > limit:
        raise UploadRejected(name, TOO_LARGE.format(_megabytes(limit)))
    limit = settings.MAX_IMAGE_PIXELS
    max_pixels = limit if pixels_left is None else min(limit, pixels_left)
    try:
        return _checked(name, upload.read(), window=window, max_pixels=max_pixels)
    except UploadRejected:
        raise
    except ImageTooLargeError as exc:
        if exc.pixels is not None and exc.pixels <= limit:  # within the file limit
            total = f"{settings.MAX_UPLOAD_PIXELS:,}"
            raise UploadRejected(name, OVER_BUDGET.format(total)) from exc
        raise UploadRejected(name, str(exc)) from exc
    except ImageError as exc:
        raise UploadRejected(name, str(exc)) from exc
    except MemoryError as exc:
        logger.warning("Upload %s refused: out of memory while reading it", name)
        raise UploadRejected(name, str(UNREADABLE)) from exc
    except Exception as exc:  # any other failure is this file's, never the request's
        logger.exception("Upload %s refused: unexpected error while reading it", name)
        raise UploadRejected(name, str(UNREADABLE)) from exc


def _checked(name: str, data: bytes, *, window: Window, max_pixels: int) -> CheckedUpload:
    image = open_image(data, max_pixels=max_pixels, window=window)
    dicom = image.info.get("dicom")
    if not dicom and (foreign := foreign_content(data, image.format)):
        raise UploadRejected(name, FOREIGN.format(foreign))
    pixels = to_rgb_or_grey(image)  # what the model reads, so stored == read
    return CheckedUpload(
        name=name,
        data=data,
        stored=_png(pixels),
        image_format=image.format,
        width=image.width,
        height=image.height,
        thumbnail=_thumbnail(pixels),
        dicom=dicom,
    )


def scan_create(*, owner, checked: CheckedUpload, note: str = "", ip: str | None = None) -> Scan:
    """Store one validated image as a queued scan (image under a random name) with its
    upload audit event, and send it to be read once that commits.

    The files are written before the transaction, which then holds only the two rows:
    SQLite has one writer at a time, and the workers' readings wait for it. Whatever
    fails leaves neither files nor rows.
    """
    now = timezone.now()
    scan = Scan(
        owner=owner,
        original_name=checked.name,
        image_format=checked.image_format,
        size_bytes=len(checked.data),
        sha256=hashlib.sha256(checked.data).hexdigest(),
        width=checked.width,
        height=checked.height,
        dicom=checked.dicom,
        note=note.strip(),
        status=Scan.Status.QUEUED,
        uploaded_at=now,
        queued_at=now,
    )
    try:
        file_save(field=scan.image, filename="scan.png", data=checked.stored)  # the pixels
        file_save(field=scan.thumbnail, filename="thumbnail.png", data=checked.thumbnail)
        with transaction.atomic():
            scan.save()
            audit_record(action=AuditEvent.Action.UPLOAD, actor=owner, ip=ip, obj=scan)
            scan_enqueue(scan=scan)
    except BaseException:
        scan_files_delete(scan=scan)  # no file without its row
        raise
    return scan


@dataclass(frozen=True)
class UploadResult:
    scans: list[Scan]
    rejected: list[UploadRejected]

    @property
    def server_fault(self) -> bool:
        """Nothing was kept, and at least one file only because the server failed to
        store it: a 503 (try again later), not a 400."""
        return not self.scans and any(r.server_fault for r in self.rejected)


def scans_upload(
    *,
    owner,
    files: list[UploadedFile],
    note: str = "",
    window_level: float | None = None,
    window_width: float | None = None,
    ip: str | None = None,
) -> UploadResult:
    """Store every upload that passes the checks as a scan and send it to be read.

    Each file stands alone: it is read, then stored in its own transaction with its
    upload audit event, and its task is sent when that commits. A refused file is
    reported with its reason and leaves nothing behind; the others are kept.
    Files past the request's pixel budget (``MAX_UPLOAD_PIXELS``) are refused
    before they are decoded, so one request stays within its stated time.

    ``files``, ``note`` and the window are the fields of the page's UploadForm and of
    the API's UploadSerializer, by name: both doors pass what they validated as is.
    """
    window = Window(
        level=ABDOMEN.level if window_level is None else window_level,
        width=window_width or ABDOMEN.width,
    )
    scans, rejected = [], []
    pixels_left = settings.MAX_UPLOAD_PIXELS
    for upload in files:
        try:
            checked = upload_check(upload, window=window, pixels_left=pixels_left)
            pixels_left -= checked.width * checked.height
            scans.append(_scan_store(owner=owner, checked=checked, note=note, ip=ip))
        except UploadRejected as exc:
            rejected.append(exc)
    return UploadResult(scans=scans, rejected=rejected)


def _scan_store(*, owner, checked: CheckedUpload, note: str, ip: str | None) -> Scan:
    """One checked file as a scan, its audit event and its task, or UploadRejected."""
    try:
        return scan_create(owner=owner, checked=checked, note=note, ip=ip)
    except Exception as exc:  # disk full, database down: nothing of this file is kept
        logger.exception("Cannot store upload %s", checked.name)
        cause = STORAGE_CAUSES.get(getattr(exc, "errno", None), STORAGE_ERROR)
        reason = STORAGE_FAILED.format(cause)
        raise UploadRejected(checked.name, reason, server_fault=True) from exc


def scan_delete(*, scan: Scan, actor=None, ip: str | None = None) -> None:
    """Delete the scan, its predictions, reviews and files."""
    with transaction.atomic():
        audit_record(
            action=AuditEvent.Action.DELETE,
            actor=actor,
            ip=ip,
            obj=scan,
            name=scan.original_name,
            owner=scan.owner.get_username(),
        )
        heatmaps = [p.heatmap for p in scan.predictions.all() if p.heatmap]
        Review.objects.filter(scan=scan).delete()  # reviews protect their predictions
        scan.delete()
        transaction.on_commit(lambda: [h.storage.delete(h.name) for h in heatmaps])
        transaction.on_commit(lambda: scan_files_delete(scan=scan))


def scans_delete(*, scans, actor=None, ip: str | None = None) -> int:
    """Delete several scans, each as :func:`scan_delete` does (audited, files removed)."""
    count = 0
    for scan in scans:
        scan_delete(scan=scan, actor=actor, ip=ip)
        count += 1
    return count


def scan_note_update(*, scan: Scan, note: str, actor, ip: str | None = None) -> Scan:
    """Change a scan's note (admins, in the admin), audited with the old and new text."""
    note = note.strip()
    if note == scan.note:
        return scan
    with transaction.atomic():
        audit_record(
            action=AuditEvent.Action.CHANGE,
            actor=actor,
            ip=ip,
            obj=scan,
            field="note",
            old=scan.note,
            new=note,
        )
        scan.note = note
        scan.save(update_fields=["note"])
    return scan


def _thumbnail(pixels: Image.Image) -> bytes:
    """pixels: already 8-bit grey or RGB (to_rgb_or_grey)."""
    small = pixels.copy()
    small.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
    return _png(small)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # No text chunks: nothing but pixels is written. A grey slice, once PNG's filters
    # ran, is mostly runs: zlib's run-length strategy writes it as small as the default
    # one (the sample's 256 x 256 slices: 18-27 KiB) with half the CPU; on colour
    # images it loses badly (up to 25 times the size), so they keep the default.
    strategy = zlib.Z_RLE if image.mode == "L" else zlib.Z_DEFAULT_STRATEGY
    image.save(buffer, "PNG", compress_type=strategy)
    return buffer.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"
