"""The database mirror of the model versions on disk, and which one is served."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from django.conf import settings

from mlcore import versions
from scans.audit import audit_record
from scans.models import AuditEvent, Diagnosis, ModelVersion
from scans.selectors.model_versions import active_model_version

logger = logging.getLogger(__name__)


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
    """Mirror every version folder into the database (their ids, dates and metrics).

    Returns the active version's row, or None when no version is active. Which one
    is active is not copied: active_model_version (the ACTIVE file) is asked.
    """
    models_dir = Path(models_dir or settings.MODELS_DIR)
    for version_id in versions.list_versions(models_dir):
        try:
            metadata = versions.read_metadata(models_dir / version_id)
        except versions.VersionError as exc:
            logger.warning("Skipping model version %s: %s", version_id, exc)
            continue
        model_version_record(metadata=metadata)
    active = active_model_version(models_dir=models_dir)
    return ModelVersion.objects.filter(pk=active.id).first() if active else None


def model_version_activate(
    *, version_id: str, actor=None, ip: str | None = None, via: str = "command line"
) -> ModelVersion:
    """Serve ``version_id`` from now on: workers load it at their next scan.

    ``via`` names the door for the audit trail ("admin", "command line").
    """
    models_dir = Path(settings.MODELS_DIR)
    metadata = versions.read_metadata(versions.resolve(version_id, root=models_dir))
    unknown = [name for name in metadata["class_names"] if name not in Diagnosis.values]
    if unknown:
        # Its readings could not be stored, reviewed or counted under the site's classes.
        raise versions.VersionError(
            f"Version {version_id} reads classes this site does not know "
            f"({', '.join(unknown)}); the site reads {', '.join(Diagnosis.values)}."
        )
    previous = active_model_version(models_dir=models_dir)
    versions.activate(version_id, models_dir)
    active = model_versions_sync(models_dir=models_dir)
    audit_record(
        action=AuditEvent.Action.ACTIVATE_MODEL,
        actor=actor,
        ip=ip,
        obj=active,
        previous=previous.id if previous else None,
        via=via,
    )
    return active


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
