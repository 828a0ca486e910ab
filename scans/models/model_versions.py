"""The database's mirror of the model versions in the models folder."""

from __future__ import annotations

from django.db import models


class ModelVersion(models.Model):
    """Mirror of one ``models/<version>/metadata.json``; the files are the truth.

    Which version is active is not stored here: ``models/ACTIVE`` says it, read by
    selectors.model_versions.active_model_version, so the two cannot disagree.
    """

    id = models.CharField(primary_key=True, max_length=64)
    created = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.id

    @property
    def validation_accuracy(self) -> float | None:
        return (self.metrics.get("validation") or {}).get("accuracy")

    @property
    def crossvalidated_balanced_accuracy(self) -> tuple[float, float | None] | None:
        """(mean, spread) of the balanced accuracy over patient-block folds, if measured."""
        crossvalidation = self.metrics.get("crossvalidation") or {}
        mean = (crossvalidation.get("mean") or {}).get("balanced_accuracy")
        if mean is None:
            return None
        return mean, (crossvalidation.get("spread") or {}).get("balanced_accuracy")
