"""Reads: what a user may see, filtered for the pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.db.models import Count, Q, QuerySet

from mlcore import versions
from scans.models import Diagnosis, Scan


def active_model_version(*, models_dir: Path) -> dict | None:
    """The metadata of the model named in models_dir/ACTIVE, or None if none is active.

    Reads plain files (no TensorFlow), so a page can show the model cheaply.
    """
    version = versions.active_version(models_dir)
    if version is None:
        return None
    try:
        return versions.read_metadata(versions.resolve(version, root=models_dir))
    except versions.VersionError:
        return None


def scans_visible_to(*, user) -> QuerySet[Scan]:
    """Staff see every scan; everybody else only their own."""
    scans = Scan.objects.select_related("prediction", "owner")
    return scans if user.is_staff else scans.filter(owner=user)


def scan_get_for_user(*, user, scan_id: int) -> Scan:
    """The scan if the user may see it; Scan.DoesNotExist otherwise (a 404, not a 403)."""
    return scans_visible_to(user=user).get(pk=scan_id)


def scan_list_for_user(
    *,
    user,
    diagnosis: str = "",
    status: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    query: str = "",
) -> QuerySet[Scan]:
    """The user's own scans, newest first, narrowed by the history page's filters."""
    scans = Scan.objects.filter(owner=user).select_related("prediction")
    if diagnosis:
        scans = scans.filter(status=Scan.Status.DONE, prediction__label=diagnosis)
    if status:
        scans = scans.filter(status=status)
    if date_from:
        scans = scans.filter(uploaded_at__date__gte=date_from)
    if date_to:
        scans = scans.filter(uploaded_at__date__lte=date_to)
    if query:
        scans = scans.filter(Q(original_name__icontains=query) | Q(note__icontains=query))
    return scans.order_by("-uploaded_at", "-id")


def scan_counts_for_user(*, user) -> dict[str, int]:
    """How many of the user's finished scans the AI gave each diagnosis (all four keys)."""
    rows = (
        Scan.objects.filter(owner=user, status=Scan.Status.DONE)
        .values("prediction__label")
        .annotate(n=Count("id"))
    )
    counts = {label: 0 for label in Diagnosis.values}
    for row in rows:
        if row["prediction__label"] in counts:
            counts[row["prediction__label"]] = row["n"]
    return counts
