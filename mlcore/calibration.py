"""Confidence that means something: temperature scaling and its measurement.

The served probabilities are a mean over networks and mirror images, so the
temperature acts on their logarithms: ``p_T ∝ p ** (1 / T)``. T > 1 softens
over-confident answers, T < 1 sharpens timid ones; the ranking (and so the
label) never changes. T is fitted on held-out slices by minimising the
negative log-likelihood.

Expected calibration error (ECE): the confidence range is cut into 15 equal
bins; ECE is the mean gap between confidence and accuracy per bin, weighted
by the share of images in the bin.
"""

from __future__ import annotations

import itertools

import numpy as np

ECE_BINS = 15
_EPSILON = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale rows of probabilities with the temperature (rows sum to 1 again)."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, _EPSILON, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(probabilities.dtype)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, _EPSILON, 1.0))))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] with the lowest NLL (log grid, then a finer one)."""
    labels = np.asarray(labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))
    best = min(
        grid, key=lambda t: negative_log_likelihood(apply_temperature(probabilities, t), labels)
    )
    fine = np.exp(np.linspace(np.log(best) - 0.03, np.log(best) + 0.03, 61))
    best = min(
        fine, key=lambda t: negative_log_likelihood(apply_temperature(probabilities, t), labels)
    )
    return round(float(best), 4)


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def calibrate(probabilities: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> dict:
    """Fit the temperature on all held-out images and measure what it does.

    ``ece_after`` is cross-fitted, so it is not measured on the images the
    temperature was fitted to: the images are split in two halves at random;
    each half is scaled with the temperature fitted on the other.
    """
    labels = np.asarray(labels)
    temperature = fit_temperature(probabilities, labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    crossed = np.empty_like(probabilities)
    for fit_on, apply_to in (halves, halves[::-1]):
        t = fit_temperature(probabilities[fit_on], labels[fit_on])
        crossed[apply_to] = apply_temperature(probabilities[apply_to], t)
    return {
        "temperature": temperature,
        "ece_before": round(expected_calibration_error(probabilities, labels), 4),
        "ece_after": round(expected_calibration_error(crossed, labels), 4),
        "ece_after_in_sample": round(
            expected_calibration_error(apply_temperature(probabilities, temperature), labels), 4
        ),
        "bins": ECE_BINS,
        "n_images": len(labels),
    }


# The thresholds uncertain_threshold tries by default: 0.25 to 0.99 in steps of 0.01.
THRESHOLD_GRID = np.round(np.arange(0.25, 1.0, 0.01), 2)


def uncertain_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    target_accuracy: float = 0.98,
    grid: np.ndarray = THRESHOLD_GRID,
) -> float:
    """The lowest confidence in ``grid`` at or above which held-out readings were at
    least ``target_accuracy`` correct: readings below it are flagged for review. The
    highest of the grid when none is."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    for threshold in grid:
        kept = confidence >= threshold
        if kept.any() and correct[kept].mean() >= target_accuracy:
            return float(threshold)
    return float(grid[-1])
