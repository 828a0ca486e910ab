"""The process's one classifier: loaded once, reloaded when the active version changes."""

from __future__ import annotations

import math
import threading
from pathlib import Path

from django.conf import settings

from mlcore import versions
from mlcore.inference import Classifier, load_classifier


class ModelUnavailableError(Exception):
    """No model version can be served (none active, or its files are missing)."""


_lock = threading.Lock()
_loaded: dict[tuple[Path, str], Classifier] = {}


def classifier_get() -> Classifier:
    """The classifier for the active version; loads it on first use or after activation.

    Checking costs one read of the small ``models/ACTIVE`` file, so it is done
    on every call: activating a version takes effect without a restart.
    """
    models_dir = Path(settings.MODELS_DIR)
    version = versions.active_version(models_dir)
    if version is None:
        raise ModelUnavailableError(
            f"No model version is active: train one and name it in {models_dir / 'ACTIVE'}."
        )
    key = (models_dir, version)
    with _lock:
        if key not in _loaded:
            try:
                classifier = load_classifier(
                    version, models_dir=models_dir, runtime=settings.INFERENCE_RUNTIME
                )
            except (versions.VersionError, OSError, ValueError) as exc:
                raise ModelUnavailableError(
                    f"Model version {version} cannot be loaded: {exc}"
                ) from exc
            _loaded.clear()  # one model in memory: the previous version is no longer served
            _loaded[key] = classifier
        classifier = _loaded[key]
    # KIDNEYWEB_UNCERTAIN_BELOW, when set, replaces the version's own threshold.
    own = classifier.metadata.get("inference", {}).get("uncertain_below")
    override = settings.UNCERTAIN_BELOW
    classifier.uncertain_below = own if math.isnan(override) else override
    return classifier


_explainers: dict[tuple[Path, str], object] = {}


def explainer_get(version: str):
    """Grad-CAM for a model version, loaded on first use (it imports TensorFlow, which
    a process that only classifies never needs)."""
    from mlcore.explain import GradCam

    models_dir = Path(settings.MODELS_DIR)
    key = (models_dir, version)
    with _lock:
        if key not in _explainers:
            try:
                explainer = GradCam(versions.resolve(version, root=models_dir))
            except (versions.VersionError, OSError, ValueError) as exc:
                raise ModelUnavailableError(
                    f"Model version {version} cannot explain its readings: {exc}"
                ) from exc
            _explainers.clear()
            _explainers[key] = explainer
        return _explainers[key]
