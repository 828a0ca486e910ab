"""Serving: load a model version once, classify image bytes fast.

Public, stable API::

    classifier = load_classifier()            # the active version
    prediction = classifier.classify(data)    # -> Prediction
    predictions = classifier.classify_batch([data, ...])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlcore import versions
from mlcore.body import mask_batch
from mlcore.calibration import apply_temperature
from mlcore.ood import OutlierDetector
from mlcore.preprocessing import (
    DEFAULT_MAX_PIXELS,
    ImageSource,
    SliceViews,
    load_image,
    load_views,
    recorded_view,
    recorded_views,
)
from mlcore.runtime import Runner, make_runner

DEFAULT_RUNTIME = "litert"


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]
    model_version: str
    milliseconds: float
    # Less confident than the version's threshold (chosen on held-out slices).
    uncertain: bool = False
    # True when the image is not like the CT slices the model learnt from (a photo,
    # a radiograph, text...): the label must not be read as a kidney finding.
    out_of_distribution: bool = False
    # The body fills the frame's height: a coronal or sagittal slice, read far less
    # reliably than axial ones (docs/model-card.md, "Coronal slices").
    fills_frame: bool = False


class Classifier:
    """One loaded model version; reuse it for every image."""

    def __init__(
        self,
        version_dir: Path,
        runner: Runner,
        metadata: dict,
        runtime: str,
        *,
        uncertain_below: float | None = None,
    ):
        self.version_dir = version_dir
        self.metadata = metadata
        self.runtime = runtime
        self.version = metadata["version"]
        self.class_names = tuple(metadata["class_names"])
        self.image_size = int(metadata["input_size"][0])
        inference = metadata.get("inference", {})
        self.flip_averaging = inference.get("flip_averaging", False)
        preprocessing = metadata.get("preprocessing", {})
        view = recorded_view(preprocessing)
        self.body_mask, self.body_crop = view.body_mask, view.body_crop
        # A version whose networks read different views of the slice (each network
        # its own: mlcore.ensembles) takes them stacked, one input per view.
        self.views = recorded_views(preprocessing)
        # Temperature scaling fitted on held-out slices (1.0: the raw probabilities).
        self.temperature = float(metadata.get("calibration", {}).get("temperature", 1.0))
        # Readings less confident than this are flagged for review (None: no advice):
        # the version's own, unless the application loads it with its own.
        own = inference.get("uncertain_below")
        self.uncertain_below = own if uncertain_below is None else uncertain_below
        self.outliers = OutlierDetector.from_metadata(metadata.get("ood"))
        self._runner = runner

    def preprocess(self, source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS):
        """The image as the not-a-CT check reads it: whole, never masked."""
        return load_image(source, self.image_size, max_pixels=max_pixels)

    def read(self, source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> SliceViews:
        """Decode once: the whole slice (for the not-a-CT check) and the network's
        input, masked and cropped as the version was trained."""
        return load_views(
            source,
            self.image_size,
            max_pixels=max_pixels,
            body_mask=self.body_mask,
            body_crop=self.body_crop,
            views=self.views,
        )

    def model_input(self, batch: np.ndarray) -> np.ndarray:
        """Whole preprocessed slices as the network reads them: with the outside of the
        body blacked out when the version was trained so (the same as load_image(...,
        body_mask=True), which training uses). A version that reads a crop around the
        body, or several views, needs the full-resolution slice: use :meth:`read`."""
        if self.body_crop or self.views:
            raise ValueError(
                f"Version {self.version} reads a crop or several views of the slice: use read()."
            )
        if not self.body_mask:
            return batch
        return mask_batch(batch)

    def classify(self, source: ImageSource) -> Prediction:
        """Classify one image (bytes, path or file); raises ImageError for bad input."""
        return self.classify_batch([source])[0]

    def classify_batch(self, sources: Sequence[ImageSource]) -> list[Prediction]:
        """Classify several images in one forward pass; raises ImageError for bad input."""
        if not sources:
            return []
        started = time.perf_counter()
        views = [self.read(source) for source in sources]
        batch = np.stack([view.whole for view in views])
        probabilities = self.predict_arrays(np.stack([view.model_input for view in views]))
        outside = self.outliers.refuse(batch) if self.outliers else np.zeros(len(batch), bool)
        milliseconds = (time.perf_counter() - started) * 1000 / len(sources)
        return [
            self._prediction(row, milliseconds, bool(out), view.fills_frame)
            for row, out, view in zip(probabilities, outside, views, strict=True)
        ]

    def predict_arrays(self, batch: np.ndarray, *, calibrated: bool = True) -> np.ndarray:
        """Class probabilities for model inputs (N, size, size, 3): see model_input.

        Versions trained with flip averaging also read each image mirrored left to
        right and average the two answers, as their recorded metrics did; then the
        version's temperature is applied unless ``calibrated=False``.
        """
        if self.flip_averaging:
            probabilities = average_with_mirror(self._runner, batch)
        else:
            probabilities = self._runner(batch)
        return apply_temperature(probabilities, self.temperature) if calibrated else probabilities

    def _prediction(
        self, row: np.ndarray, milliseconds: float, outside: bool, fills_frame: bool
    ) -> Prediction:
        best = int(np.argmax(row))
        threshold = self.uncertain_below
        return Prediction(
            label=self.class_names[best],
            confidence=float(row[best]),
            probabilities={name: float(p) for name, p in zip(self.class_names, row, strict=True)},
            model_version=self.version,
            milliseconds=milliseconds,
            uncertain=threshold is not None and float(row[best]) < threshold,
            out_of_distribution=outside,
            fills_frame=fills_frame,
        )


def average_with_mirror(
    forward: Callable[[np.ndarray], np.ndarray], batch: np.ndarray
) -> np.ndarray:
    """Mean of the probabilities for each image and its left-right mirror image
    (every view of a stacked input mirrored: the width is the second-last axis)."""
    both = forward(np.concatenate([batch, batch[..., ::-1, :]]))
    return (both[: len(batch)] + both[len(batch) :]) / 2


def load_classifier(
    path: str | os.PathLike | None = None,
    *,
    models_dir: str | os.PathLike | None = None,
    runtime: str = DEFAULT_RUNTIME,
    threads: int | None = None,
    uncertain_below: float | None = None,
) -> Classifier:
    """Load a model version (a folder, a version id, or None for the active one) once.

    runtime: "litert" (fastest) or "keras"; threads: LiteRT's (None: all cores);
    uncertain_below: a threshold of the caller's instead of the version's own.
    """
    version_dir = versions.resolve(path, root=versions.models_dir(models_dir))
    metadata = versions.read_metadata(version_dir)
    runner = make_runner(version_dir, runtime, threads=threads)
    return Classifier(version_dir, runner, metadata, runtime, uncertain_below=uncertain_below)
