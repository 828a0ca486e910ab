"""Writes: creating, classifying, retrying and deleting scans; mirroring model versions."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from PIL import Image
from rest_framework.authtoken.models import Token

from mlcore import versions
from mlcore.dicom import ABDOMEN, Window
from mlcore.heatmaps import overlay_png
from mlcore.inference import Classifier
from mlcore.preprocessing import (
    ImageError,
    ImageTooLargeError,
    load_image,
    open_image,
    to_rgb_or_grey,
)
from scans.audit import audit_record
from scans.classifier import ModelUnavailableError, classifier_get, explainer_get
from scans.models import AuditEvent, Diagnosis, ModelVersion, Prediction, Review, Scan
from scans.ratelimit import hits_clear, hits_count, hits_get
from scans.roles import ADMIN, CLINICIAN, ROLES, role_group
from scans.uploads import foreign_content

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (160, 160)
STORAGE_FAILED = (
    "The server could not store the file ({}); nothing was kept. "
    "Try again later, or tell an administrator if it happens again."
)
UNREADABLE = (
    "The file could not be read as an image: it may be damaged or use a variant this "
    "server does not read. Export the slice again as JPEG, PNG or uncompressed DICOM."
)
OVER_BUDGET = (
    "with it, this upload would hold more than {} pixels, the most one upload may "
    "hold; send this file in another upload."
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
        raise UploadRejected(name, f"the file is larger than the {_megabytes(limit)} limit.")
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
        raise UploadRejected(name, UNREADABLE) from exc
    except Exception as exc:  # any other failure is this file's, never the request's
        logger.exception("Upload %s refused: unexpected error while reading it", name)
        raise UploadRejected(name, UNREADABLE) from exc


def _checked(name: str, data: bytes, *, window: Window, max_pixels: int) -> CheckedUpload:
    image = open_image(data, max_pixels=max_pixels, window=window)
    dicom = image.info.get("dicom")
    if not dicom and (foreign := foreign_content(data, image.format)):
        raise UploadRejected(
            name,
            f"The file holds something besides the image: {foreign} "
            "Export the slice again as a plain image.",
        )
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


def scan_create(*, owner, checked: CheckedUpload, note: str = "") -> Scan:
    """Store one validated image as a queued scan (image under a random name)."""
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
    _save_file(scan.image, "scan.png", checked.stored)  # the pixels, re-encoded
    try:
        _save_file(scan.thumbnail, "thumbnail.png", checked.thumbnail)
        scan.save()
    except BaseException:
        _delete_files(scan)  # no file without its row
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
    uploads: list[UploadedFile],
    note: str = "",
    window_level: float | None = None,
    window_width: float | None = None,
    request=None,
) -> UploadResult:
    """Store every upload that passes the checks as a scan and send it to be read.

    Each file stands alone: it is read, then stored in its own transaction with its
    upload audit event, and its task is sent when that commits. A refused file is
    reported with its reason and leaves nothing behind; the others are kept.
    Files past the request's pixel budget (``MAX_UPLOAD_PIXELS``) are refused
    before they are decoded, so one request stays within its stated time.
    """
    window = Window(
        level=ABDOMEN.level if window_level is None else window_level,
        width=window_width or ABDOMEN.width,
    )
    scans, rejected = [], []
    pixels_left = settings.MAX_UPLOAD_PIXELS
    for upload in uploads:
        try:
            checked = upload_check(upload, window=window, pixels_left=pixels_left)
            pixels_left -= checked.width * checked.height
            scans.append(_scan_store(owner=owner, checked=checked, note=note, request=request))
        except UploadRejected as exc:
            rejected.append(exc)
    return UploadResult(scans=scans, rejected=rejected)


def _scan_store(*, owner, checked: CheckedUpload, note: str, request) -> Scan:
    """One checked file as a scan, its audit event and its task, or UploadRejected."""
    scan = None
    try:
        with transaction.atomic():
            scan = scan_create(owner=owner, checked=checked, note=note)
            audit_record(action=AuditEvent.Action.UPLOAD, actor=owner, request=request, obj=scan)
            scan_enqueue(scan=scan)
    except Exception as exc:  # disk full, database down: nothing of this file is kept
        if scan is not None:
            _delete_files(scan)  # the row was rolled back; its files go too
        logger.exception("Cannot store upload %s", checked.name)
        cause = getattr(exc, "strerror", None) or "storage error"
        raise UploadRejected(checked.name, STORAGE_FAILED.format(cause), server_fault=True) from exc
    return scan


def scan_enqueue(*, scan: Scan) -> None:
    """Send a queued scan to the workers once the transaction that saved it commits."""
    transaction.on_commit(lambda: scan_send(scan_id=scan.pk))


def scan_send(*, scan_id: int) -> bool:
    """Put one classification task on the broker; False if the broker is unreachable.

    The scan stays queued either way: the recovery job sends it again later.
    """
    return _send("classify_scan", scan_id, if_down=f"scan {scan_id} stays queued")


def _send(task_name: str, object_id: int, *, if_down: str) -> bool:
    """Put one task of scans.tasks on the broker; if it is unreachable, log what that
    means (``if_down``) and return False instead of failing the caller."""
    from scans import tasks  # scans.tasks imports this module

    try:
        getattr(tasks, task_name).delay(object_id)
    except KombuOperationalError as exc:
        logger.warning("Broker unreachable, %s: %s", if_down, exc)
        return False
    return True


def scans_requeue_stale(*, older_than_seconds: int) -> int:
    """Send again every scan queued or processing for longer than the timeout.

    Returns how many were sent. A scan whose worker died mid-task is left in
    ``processing``; one uploaded while the broker was down is left ``queued``.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = Scan.objects.filter(
        Q(status=Scan.Status.QUEUED, queued_at__lt=cutoff)
        | Q(status=Scan.Status.PROCESSING, processing_at__lt=cutoff)
    ).values_list("pk", flat=True)
    sent = 0
    for scan_id in stale:
        Scan.objects.filter(pk=scan_id).exclude(status=Scan.Status.DONE).update(
            status=Scan.Status.QUEUED, queued_at=timezone.now()
        )
        if not scan_send(scan_id=scan_id):
            break  # the broker is down: try again at the next run
        sent += 1
    if sent:
        logger.info("Sent %s stale scan(s) again.", sent)
    return sent


def scan_classify(*, scan_id: int, classifier: Classifier | None = None) -> Scan:
    """Classify one scan with the active model; safe to call twice for the same scan.

    A scan that is already done is returned unchanged. Unreadable images and a
    missing model end in ``failed`` with the reason, never in ``processing``.
    Written for the burst: eight statements per scan, the result in one transaction.
    """
    claimed = (
        Scan.objects.filter(pk=scan_id)
        .exclude(status=Scan.Status.DONE)
        .update(status=Scan.Status.PROCESSING, processing_at=timezone.now())
    )
    scan = Scan.objects.get(pk=scan_id)  # DoesNotExist if it was deleted meanwhile
    if not claimed:
        return scan  # already done: a redelivered task
    try:
        classifier = classifier or classifier_get()
        with scan.image.open("rb") as handle:
            data = handle.read()
        reading = classifier.classify(data)
    except ModelUnavailableError as exc:
        return scan_fail(scan=scan, reason=str(exc))
    except ImageError as exc:
        return scan_fail(scan=scan, reason=f"The image cannot be read: {exc}")
    except FileNotFoundError:
        return scan_fail(scan=scan, reason="The stored image file is missing.")
    version_id = model_version_ensure(metadata=classifier.metadata)
    fields = {
        "label": reading.label,
        "confidence": reading.confidence,
        "probabilities": reading.probabilities,
        "uncertain": reading.uncertain,
        "out_of_distribution": reading.out_of_distribution,
        "milliseconds": reading.milliseconds,
    }
    with transaction.atomic():
        # A second delivery of the same task may have finished first: one prediction.
        state = Scan.objects.select_for_update().filter(pk=scan_id).values("status").first()
        if state is None or state["status"] == Scan.Status.DONE:
            return scan
        if scan.prediction_id is None:  # never read before: nothing to update
            prediction = Prediction.objects.create(scan=scan, model_version_id=version_id, **fields)
        else:  # read again (a re-read, or a new model version)
            prediction, _ = Prediction.objects.update_or_create(
                scan=scan, model_version_id=version_id, defaults=fields
            )
        scan.prediction = prediction
        scan.status = Scan.Status.DONE
        scan.done_at = timezone.now()
        scan.failure_reason = ""
        scan.save(update_fields=["prediction", "status", "done_at", "failure_reason"])
        if settings.HEATMAPS and not reading.out_of_distribution:
            transaction.on_commit(lambda: prediction_explain_send(prediction_id=prediction.pk))
    return scan


def prediction_explain_send(*, prediction_id: int) -> None:
    # The reading stands without its heatmap, which is optional.
    _send("explain_prediction", prediction_id, if_down=f"no heatmap for prediction {prediction_id}")


def prediction_explain(*, prediction_id: int) -> Prediction:
    """Compute and store the Grad-CAM heatmap of a prediction (once)."""
    prediction = Prediction.objects.select_related("scan").get(pk=prediction_id)
    if prediction.heatmap:
        return prediction
    explainer = explainer_get(prediction.model_version_id)
    with prediction.scan.image.open("rb") as handle:
        image = load_image(handle.read(), explainer.image_size, body_mask=explainer.body_mask)
    class_index = list(Diagnosis.values).index(prediction.label)
    heat = explainer.heatmap(image, class_index)
    prediction.heatmap.save("heatmap.png", ContentFile(overlay_png(heat)), save=False)
    prediction.save(update_fields=["heatmap"])
    return prediction


def scan_fail_by_id(*, scan_id: int, reason: str) -> None:
    scan = Scan.objects.filter(pk=scan_id).exclude(status=Scan.Status.DONE).first()
    if scan is not None:
        scan_fail(scan=scan, reason=reason)


def scan_fail(*, scan: Scan, reason: str) -> Scan:
    logger.warning("Scan %s failed: %s", scan.pk, reason)
    scan.status = Scan.Status.FAILED
    scan.failed_at = timezone.now()
    scan.failure_reason = reason
    scan.save(update_fields=["status", "failed_at", "failure_reason"])
    return scan


def scan_retry(*, scan: Scan) -> Scan:
    """Queue a failed scan again."""
    if scan.status != Scan.Status.FAILED:
        return scan
    scan.status = Scan.Status.QUEUED
    scan.queued_at = timezone.now()
    scan.failure_reason = ""
    scan.save(update_fields=["status", "queued_at", "failure_reason"])
    scan_enqueue(scan=scan)
    return scan


def scan_delete(*, scan: Scan, actor=None, request=None) -> None:
    """Delete the scan, its predictions, reviews and files."""
    with transaction.atomic():
        audit_record(
            action=AuditEvent.Action.DELETE,
            actor=actor,
            request=request,
            obj=scan,
            name=scan.original_name,
            owner=scan.owner.get_username(),
        )
        heatmaps = [p.heatmap for p in scan.predictions.all() if p.heatmap]
        Review.objects.filter(scan=scan).delete()  # reviews protect their predictions
        scan.delete()
        transaction.on_commit(lambda: [h.storage.delete(h.name) for h in heatmaps])
        transaction.on_commit(lambda: _delete_files(scan))


def scans_delete(*, scans, actor=None, request=None) -> int:
    """Delete several scans, each as :func:`scan_delete` does (audited, files removed)."""
    count = 0
    for scan in scans:
        scan_delete(scan=scan, actor=actor, request=request)
        count += 1
    return count


def scan_note_update(*, scan: Scan, note: str, actor, request=None) -> Scan:
    """Change a scan's note (admins, in the admin), audited with the old and new text."""
    note = note.strip()
    if note == scan.note:
        return scan
    with transaction.atomic():
        audit_record(
            action=AuditEvent.Action.CHANGE,
            actor=actor,
            request=request,
            obj=scan,
            field="note",
            old=scan.note,
            new=note,
        )
        scan.note = note
        scan.save(update_fields=["note"])
    return scan


def user_delete(*, user, actor=None, request=None) -> None:
    """Delete a user and their scans, each scan audited and its files removed.

    Raises django.db.models.ProtectedError (nothing deleted) if the user wrote
    reviews: those stay; deactivate the account instead.
    """
    with transaction.atomic():
        scans_delete(scans=Scan.objects.filter(owner=user), actor=actor, request=request)
        audit_record(
            action=AuditEvent.Action.DELETE_USER,
            actor=actor,
            request=request,
            obj=user,
            user=user.get_username(),
        )
        user.delete()


def model_version_record(*, metadata: dict) -> ModelVersion:
    """The database row mirroring one version's metadata (created if new)."""
    version, _ = ModelVersion.objects.update_or_create(
        id=metadata["version"],
        defaults={
            "created": _parse_time(metadata.get("created")),
            "metrics": metadata.get("metrics") or {},
        },
    )
    return version


def model_version_ensure(*, metadata: dict) -> str:
    """The id of the row mirroring this version, inserted if missing (one statement:
    versions are immutable, so an existing row is already right)."""
    ModelVersion.objects.bulk_create(
        [
            ModelVersion(
                id=metadata["version"],
                created=_parse_time(metadata.get("created")),
                metrics=metadata.get("metrics") or {},
            )
        ],
        ignore_conflicts=True,
    )
    return metadata["version"]


def model_versions_sync(*, models_dir: Path | None = None) -> ModelVersion | None:
    """Mirror every version folder into the database and mark the active one.

    Returns the active version's row, or None when no version is active.
    """
    models_dir = Path(models_dir or settings.MODELS_DIR)
    for version_id in versions.list_versions(models_dir):
        try:
            metadata = versions.read_metadata(models_dir / version_id)
        except versions.VersionError as exc:
            logger.warning("Skipping model version %s: %s", version_id, exc)
            continue
        model_version_record(metadata=metadata)
    active_id = versions.active_version(models_dir)
    active = ModelVersion.objects.filter(pk=active_id).first() if active_id else None
    with transaction.atomic():
        ModelVersion.objects.exclude(pk=getattr(active, "pk", None)).filter(is_active=True).update(
            is_active=False
        )
        if active is not None and not active.is_active:
            active.is_active = True
            active.save(update_fields=["is_active"])
    return active


def scans_reclassify(*, scans, actor, request=None) -> int:
    """Read the scans again with the active model, through the workers."""
    count = 0
    with transaction.atomic():
        for scan in scans:
            Scan.objects.filter(pk=scan.pk).update(
                status=Scan.Status.QUEUED, queued_at=timezone.now(), failure_reason=""
            )
            scan_enqueue(scan=scan)
            count += 1
        audit_record(action=AuditEvent.Action.RECLASSIFY, actor=actor, request=request, scans=count)
    return count


def review_create(*, scan: Scan, reviewer, verdict: str, comment: str = "", request=None) -> Review:
    """Record a reviewer's verdict on the scan's current AI reading (a new row each time)."""
    if scan.status != Scan.Status.DONE or scan.prediction is None:
        raise ValueError("Only a scan with an AI reading can be reviewed.")
    if verdict not in dict(Review.VERDICTS):
        raise ValueError(f"Unknown verdict {verdict!r}.")
    # A refused image has no AI label: "" stands for "not a CT slice" on both sides.
    ai_label = scan.prediction.finding or ""
    if verdict == Review.CONFIRMED and not ai_label:
        raise ValueError(
            "The model gave no kidney reading for this image: confirm it is not a CT slice "
            "or give the class it shows."
        )
    if verdict == Review.CONFIRMED:
        true_label = ai_label
    else:
        true_label = "" if verdict == Review.NOT_A_CT else verdict
    with transaction.atomic():
        review = Review.objects.create(
            scan=scan,
            reviewer=reviewer,
            verdict=verdict,
            comment=comment.strip(),
            prediction=scan.prediction,
            ai_label=ai_label,
            true_label=true_label,
            agrees=true_label == ai_label,
        )
        scan.review = review
        scan.save(update_fields=["review"])
        audit_record(
            action=AuditEvent.Action.REVIEW,
            actor=reviewer,
            request=request,
            obj=scan,
            verdict=verdict,
        )
    return review


def model_version_activate(*, version_id: str, actor=None, request=None) -> ModelVersion:
    """Serve ``version_id`` from now on: workers load it at their next scan."""
    models_dir = Path(settings.MODELS_DIR)
    previous = versions.active_version(models_dir)
    versions.activate(version_id, models_dir)
    active = model_versions_sync(models_dir=models_dir)
    audit_record(
        action=AuditEvent.Action.ACTIVATE_MODEL,
        actor=actor,
        request=request,
        obj=active,
        previous=previous,
        via="admin" if request is not None else "command line",
    )
    return active


def user_create(*, username: str, role: str, password: str | None = None):
    """A user in one role: reviewers and admins may use the admin site, admins are
    superusers. ``password=None`` leaves the account unable to log in."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValueError(f"User {username!r} already exists.")
    user = user_model(username=username, is_staff=role != CLINICIAN, is_superuser=role == ADMIN)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    with transaction.atomic():
        user.save()
        user.groups.add(role_group(role))
    return user


def api_token_create(*, user, rotate: bool = False, actor=None) -> Token:
    """The user's API key (one per user): the existing one, or a new one when there is
    none or ``rotate`` is set (the old key stops working at once)."""
    if not user.is_active:
        raise ValueError(f"User {user.get_username()!r} is inactive.")
    with transaction.atomic():
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        if created:
            audit_record(
                action=AuditEvent.Action.API_TOKEN,
                actor=actor,
                obj=user,
                user=user.get_username(),
                rotated=rotate,
            )
    return token


def api_token_revoke(*, user, actor=None, reason: str) -> bool:
    """Delete the user's API key, if any (audited with ``reason``); True if there was one."""
    with transaction.atomic():
        deleted, _ = Token.objects.filter(user=user).delete()
        if deleted:
            audit_record(
                action=AuditEvent.Action.API_TOKEN,
                actor=actor,
                obj=user,
                user=user.get_username(),
                revoked=reason,
            )
    return bool(deleted)


def _password_failures_key(user) -> str:
    return f"password-change-failures:{user.pk}"


def password_change_blocked(*, user) -> bool:
    """Too many wrong old passwords lately (the log-in limit and cool-off apply)."""
    return hits_get(key=_password_failures_key(user)) >= settings.AXES_FAILURE_LIMIT


def password_change_failed(*, user, request=None) -> bool:
    """Record a wrong old password (audited); True if that blocks further tries."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    failures = hits_count(key=_password_failures_key(user), seconds=seconds)
    blocked = failures >= settings.AXES_FAILURE_LIMIT
    actions = AuditEvent.Action
    audit_record(
        action=actions.PASSWORD_CHANGE_BLOCKED if blocked else actions.PASSWORD_CHANGE_FAILED,
        actor=user,
        request=request,
        obj=user,
        failures=failures,
    )
    return blocked


def password_change_succeeded(*, user) -> None:
    hits_clear(key=_password_failures_key(user))


def _thumbnail(pixels: Image.Image) -> bytes:
    """pixels: already 8-bit grey or RGB (to_rgb_or_grey)."""
    small = pixels.copy()
    small.thumbnail(THUMBNAIL_SIZE, Image.Resampling.BILINEAR)
    return _png(small)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")  # no text chunks: nothing but pixels is written
    return buffer.getvalue()


def _save_file(field: FieldFile, filename: str, data: bytes) -> None:
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


def _delete_files(scan: Scan) -> None:
    for field in (scan.image, scan.thumbnail):
        if field.name:
            field.storage.delete(field.name)


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"
