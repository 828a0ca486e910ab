"""Refusing images that are not kidney CT slices (out-of-distribution detection).

The classifier answers one of four kidney findings for any input, a holiday
photo included. Before it is trusted, each image is compared with the CT
slices the model was trained on, on ten cheap statistics of the model input
(colour, how much of the frame is air-black or bone-white, brightness and
contrast, the dark border around the body, edges, histogram entropy). The
training slices' statistics are summarised by their mean and covariance; an
image whose Mahalanobis distance from them exceeds a threshold, set from the
training slices alone (a high quantile of their distances), is refused as "not a
CT slice this model can read"; so is any image with real colour in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FEATURES = (
    "colour",
    "dark",
    "bright",
    "mean",
    "std",
    "border",
    "centre",
    "edges",
    "entropy",
    "mid_grey",
)
SHRINKAGE = 1e-3  # added to the covariance's diagonal: CT is exactly grey (colour 0)
# The threshold: the training distance that 99.9 % of the training slices stay within.
# The furthest slice (1.0) served the 1,280-slice sample; among 6,058 slices of many
# more patients the furthest few are outliers themselves, and with them dark text
# pages passed as CT slices. Measured (docs/model-card.md, "Not a CT slice"): real
# held-out slices refused 0.1 % (patient-block folds), non-CT set 94.0 % (1.0: 0.1 %
# and 91.5 %); 0.995 refused 95.5 % of the non-CT set but also a third of one
# patient's Normal slices, so it is not used.
TRAIN_QUANTILE = 0.999
# CT is grey: an image with more colour than JPEG noise gives is refused outright
# (mean absolute difference between channels, in [0, 1]).
MAX_COLOUR = 0.02


def image_features(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) model inputs in [0, 1] -> (N, len(FEATURES)) statistics."""
    images = np.asarray(images, dtype=np.float32)
    n, height, width = images.shape[:3]
    red, green, blue = images[..., 0], images[..., 1], images[..., 2]
    if np.array_equal(red, green) and np.array_equal(green, blue):
        # A grey image (every CT slice): its channels are one picture. Averaging three
        # interleaved channels cost more than all the statistics together (measured).
        grey = np.ascontiguousarray(red)
        colour = np.zeros(n)
    else:
        grey = (red + green + blue) / 3
        # Mean of |r - g|, |g - b| and |r - b|: for three values their sum is 2 (max - min).
        spread = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
        colour = spread.mean(axis=(1, 2)) * 2 / 3
    flat = grey.reshape(n, -1)
    pixels = flat.shape[1]
    edge = max(height // 16, 1)
    inner = grey[:, edge:-edge, edge:-edge]
    border = (flat.sum(axis=1) - inner.sum(axis=(1, 2))) / (height * width - inner[0].size)
    centre = grey[:, height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]
    gradients = np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2)) + np.abs(
        np.diff(grey, axis=2)
    ).mean(axis=(1, 2))
    # 16-bin histogram over [0, 1] (the top edge belongs to the last bin, as np.histogram).
    bins = np.minimum(flat * 16, 15).astype(np.intp)
    if n > 1:
        bins += 16 * np.arange(n)[:, None]
    histograms = np.bincount(bins.ravel(), minlength=16 * n).reshape(n, 16) / pixels

    def share(mask: np.ndarray) -> np.ndarray:
        return np.count_nonzero(mask, axis=1) / pixels

    entropy = -(histograms * np.log2(np.clip(histograms, 1e-12, 1))).sum(axis=1)
    return np.stack(
        [
            colour,
            share(flat < 0.08),
            share(flat > 0.9),
            flat.mean(axis=1),
            flat.std(axis=1),
            border,
            centre.mean(axis=(1, 2)),
            gradients,
            entropy,
            share((flat > 0.2) & (flat < 0.7)),
        ],
        axis=1,
    ).astype(np.float64)


@dataclass(frozen=True)
class OutlierDetector:
    mean: list[float]
    inverse_covariance: list[list[float]]
    threshold: float
    max_colour: float = MAX_COLOUR
    features: tuple[str, ...] = FEATURES

    @classmethod
    def fit(cls, images: np.ndarray) -> OutlierDetector:
        """Summarise training slices; the threshold comes from them alone."""
        features = image_features(images)
        mean = features.mean(axis=0)
        covariance = np.cov(features, rowvar=False) + SHRINKAGE * np.eye(features.shape[1])
        detector = cls(mean.tolist(), np.linalg.inv(covariance).tolist(), threshold=np.inf)
        threshold = float(np.quantile(detector.distances(images), TRAIN_QUANTILE))
        return cls(mean.tolist(), np.linalg.inv(covariance).tolist(), round(threshold, 4) + 1e-4)

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> OutlierDetector | None:
        if not metadata:
            return None
        return cls(
            metadata["mean"],
            metadata["inverse_covariance"],
            metadata["threshold"],
            metadata["max_colour"],
            tuple(metadata["features"]),
        )

    def to_metadata(self) -> dict:
        return {**asdict(self), "features": list(self.features)}

    def distances(self, images: np.ndarray) -> np.ndarray:
        return self._distances(image_features(images))

    def refuse(self, images: np.ndarray) -> np.ndarray:
        """True for each image that is not like the training CT slices."""
        features = image_features(images)
        colour = features[:, self.features.index("colour")]
        return (self._distances(features) > self.threshold) | (colour > self.max_colour)

    def _distances(self, features: np.ndarray) -> np.ndarray:
        centred = features - np.asarray(self.mean)
        inverse = np.asarray(self.inverse_covariance)
        return np.sqrt(np.einsum("ij,jk,ik->i", centred, inverse, centred))
