"""The process's one classifier: loaded once, reloaded when the active version changes."""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

from django.conf import settings

from mlcore import versions
from mlcore.inference import Classifier, load_classifier

logger = logging.getLogger(__name__)


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
        logger.error("No model version is active (no %s).", models_dir / versions.ACTIVE_FILE)
        raise ModelUnavailableError(
            "No model version is active: an administrator must activate one."
        )
    key = (models_dir, version)
    with _lock:
        if key not in _loaded:
            try:
                classifier = load_classifier(
                    version, models_dir=models_dir, runtime=settings.INFERENCE_RUNTIME
                )
            except (versions.VersionError, OSError, ValueError) as exc:
                # The details (server paths) go to the log; users see what to do.
                logger.error("Model version %s cannot be loaded: %s", version, exc)
                raise ModelUnavailableError(
                    f"Model version {version} cannot be loaded (its files are missing or "
                    "damaged): an administrator must restore it or activate another."
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
                explainer = GradCam.from_version(versions.resolve(version, root=models_dir))
            except (versions.VersionError, OSError, ValueError) as exc:
                logger.error("Model version %s cannot explain its readings: %s", version, exc)
                raise ModelUnavailableError(
                    f"Model version {version} cannot explain its readings (files missing)."
                ) from exc
            _explainers.clear()
            _explainers[key] = explainer
        return _explainers[key]
