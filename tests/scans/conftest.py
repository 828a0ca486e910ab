from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from factories import NEW, OLD, SHIPPED, encode, synthetic_slice

from scans.models import Diagnosis, ModelVersion, Prediction, Scan


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test stores uploads in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def png_bytes() -> bytes:
    return encode(synthetic_slice(0, 1, size=64))


@pytest.fixture
def make_scan(db, png_bytes) -> Callable[..., Scan]:
    """A stored scan in any state, without running the model."""

    def make(
        owner,
        *,
        status: str = Scan.Status.DONE,
        label: str = "Cyst",
        confidence: float = 0.9,
        name: str = "slice.png",
        note: str = "",
        uploaded_at: datetime | None = None,
    ) -> Scan:
        uploaded_at = uploaded_at or timezone.now()
        scan = Scan(
            owner=owner,
            original_name=name,
            image_format="PNG",
            size_bytes=len(png_bytes),
            sha256="0" * 64,
            width=64,
            height=64,
            note=note,
            status=status,
            uploaded_at=uploaded_at,
            queued_at=uploaded_at,
        )
        scan.image.save("scan.png", ContentFile(png_bytes), save=False)
        scan.thumbnail.save("thumbnail.png", ContentFile(png_bytes), save=False)
        if status == Scan.Status.FAILED:
            scan.failure_reason = "The image cannot be read: test reason."
        scan.save()
        if status == Scan.Status.DONE:
            version, _ = ModelVersion.objects.get_or_create(id="test-version")
            rest = (1 - confidence) / 3
            probabilities = {n: (confidence if n == label else rest) for n in Diagnosis.values}
            scan.prediction = Prediction.objects.create(
                scan=scan,
                model_version=version,
                label=label,
                confidence=confidence,
                probabilities=probabilities,
                milliseconds=2.5,
            )
            scan.done_at = uploaded_at + timedelta(seconds=1)
            scan.save()
        return scan

    return make


@pytest.fixture
def two_versions(settings, tmp_path) -> Path:
    """A models folder holding two shipped versions (linked, not copied)."""
    root = tmp_path / "models"
    root.mkdir()
    for version in (OLD, NEW):
        (root / version).symlink_to(SHIPPED / version)
    (root / "ACTIVE").write_text(f"{OLD}\n")
    settings.MODELS_DIR = root
    return root
