from __future__ import annotations

import numpy as np
import pytest

from mlcore.calibration import (
    apply_temperature,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    uncertain_threshold,
)


def overconfident(n: int = 2000, seed: int = 0):
    """Readings that say 99 % but are right 70 % of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    predicted = np.where(rng.random(n) < 0.7, labels, (labels + 1) % 4)
    probabilities = np.full((n, 4), 0.01 / 3)
    probabilities[np.arange(n), predicted] = 0.99
    return probabilities, labels


def test_temperature_keeps_the_ranking_and_rows_sum_to_one():
    probabilities, _ = overconfident(50)
    scaled = apply_temperature(probabilities, 2.5)
    assert np.allclose(scaled.sum(axis=1), 1)
    assert np.array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
    assert apply_temperature(probabilities, 1.0) is probabilities


def test_fitted_temperature_softens_overconfident_readings_to_their_accuracy():
    probabilities, labels = overconfident()
    temperature = fit_temperature(probabilities, labels)
    scaled = apply_temperature(probabilities, temperature)
    assert temperature > 1
    assert scaled.max(axis=1).mean() == pytest.approx(0.7, abs=0.02)
    assert (
        expected_calibration_error(scaled, labels)
        < 0.03
        < expected_calibration_error(probabilities, labels)
    )


def test_ece_of_a_known_case():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    # bin 0.9: confidence 0.9, accuracy 0.5 -> 0.4; bin 0.6: 0.6 vs 1.0 -> 0.4
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.4)


def test_calibrate_reports_cross_fitted_error():
    probabilities, labels = overconfident()
    report = calibrate(probabilities, labels)
    assert report["ece_before"] > 0.25
    assert report["ece_after"] < 0.05
    assert report["bins"] == 15 and report["n_images"] == 2000


def test_uncertain_threshold_separates_unreliable_readings():
    confident = np.tile([0.95, 0.05 / 3, 0.05 / 3, 0.05 / 3], (90, 1))
    unsure = np.tile([0.45, 0.55 / 3, 0.55 / 3, 0.55 / 3], (10, 1))
    probabilities = np.vstack([confident, unsure])
    labels = np.array([0] * 90 + [1] * 10)  # every unsure reading is wrong
    threshold = uncertain_threshold(probabilities, labels)
    assert 0.45 < threshold <= 0.95


def test_uncertain_threshold_searches_the_grid_it_is_given():
    right = np.tile([0.985, 0.005, 0.005, 0.005], (90, 1))
    wrong = np.tile([0.975, 0.025 / 3, 0.025 / 3, 0.025 / 3], (10, 1))
    probabilities = np.vstack([right, wrong])
    labels = np.array([0] * 90 + [1] * 10)
    # Steps of 0.01 cannot split 0.975 from 0.985; steps of 0.001 can.
    assert uncertain_threshold(probabilities, labels) == 0.98
    fine = np.round(np.arange(0.9, 1.0, 0.001), 3)
    assert uncertain_threshold(probabilities, labels, grid=fine) == 0.976
    # No threshold of the grid is right enough: its highest.
    assert uncertain_threshold(probabilities, labels, grid=np.array([0.5, 0.9])) == 0.9
