"""The process's one classifier: loaded once, reloaded when the active version changes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

from mlcore import versions
from mlcore.inference import Classifier, load_classifier
from scans.selectors.model_versions import active_model_version

logger = logging.getLogger(__name__)


class ModelUnavailableError(Exception):
    """No model version can be served (none active, or its files are missing)."""


_lock = threading.Lock()
_loaded: dict[tuple, Classifier] = {}
# LiteRT threads of this process: settings.INFERENCE_THREADS, else all cores; a Celery
# worker process asks for one (classifier_use_threads) when it starts.
_threads: int | None = None


def classifier_use_threads(threads: int) -> None:
    """The LiteRT threads this process's classifiers use from now on, unless
    KIDNEYWEB_INFERENCE_THREADS says otherwise."""
    global _threads
    _threads = threads


def classifier_get() -> Classifier:
    """The classifier for the active version; loads it on first use or after activation.

    The active version is asked for on every call (one read of the small ``ACTIVE``
    file), so activating a version takes effect without a restart. A threshold set
    in the settings (KIDNEYWEB_UNCERTAIN_BELOW) is given to the classifier when it is
    loaded, instead of the version's own.
    """
    active = active_model_version()
    if active is None:
        logger.error("No model version is active (no %s).", versions.ACTIVE_FILE)
        raise ModelUnavailableError(
            "No model version is active: an administrator must activate one."
        )
    runtime, threads = settings.INFERENCE_RUNTIME, settings.INFERENCE_THREADS or _threads
    key = (active.path, runtime, threads, settings.UNCERTAIN_BELOW)
    with _lock:
        if key not in _loaded:
            try:
                if active.metadata is None:
                    raise versions.VersionError(f"{active.path} has no readable metadata.json")
                classifier = load_classifier(
                    active.path,
                    runtime=runtime,
                    threads=threads,
                    uncertain_below=settings.UNCERTAIN_BELOW,
                )
            except (versions.VersionError, OSError, ValueError) as exc:
                # The details (server paths) go to the log; users see what to do.
                logger.error("Model version %s cannot be loaded: %s", active.id, exc)
                raise ModelUnavailableError(
                    f"Model version {active.id} cannot be loaded (its files are missing or "
                    "damaged): an administrator must restore it or activate another."
                ) from exc
            _loaded.clear()  # one model in memory: the previous version is no longer served
            _loaded[key] = classifier
        return _loaded[key]


_explainers: dict[tuple[Path, str], tuple[object, tuple[str, ...]]] = {}


def explainer_get(version: str):
    """Grad-CAM for a model version, loaded on first use (it imports TensorFlow, which
    a process that only classifies never needs)."""
    return _explainer(version)[0]


def explainer_class_index(version: str, label: str) -> int:
    """Which output of ``version`` is ``label``: from the version's own class_names,
    the order its network was trained in."""
    return _explainer(version)[1].index(label)


def _explainer(version: str) -> tuple[object, tuple[str, ...]]:
    from mlcore.explain import GradCam

    models_dir = Path(settings.MODELS_DIR)
    key = (models_dir, version)
    with _lock:
        if key not in _explainers:
            try:
                version_dir = versions.resolve(version, root=models_dir)
                class_names = tuple(versions.read_metadata(version_dir)["class_names"])
                explainer = GradCam.from_version(version_dir)
            except (versions.VersionError, OSError, ValueError, KeyError) as exc:
                logger.error("Model version %s cannot explain its readings: %s", version, exc)
                raise ModelUnavailableError(
                    f"Model version {version} cannot explain its readings (files missing)."
                ) from exc
            _explainers.clear()
            _explainers[key] = (explainer, class_names)
        return _explainers[key]
