"""mlcore.crossval.read_as_new_patients: a fold read with a temperature and threshold
fitted on the other folds only, on cases with a known answer."""

from __future__ import annotations

import pytest

from mlcore.crossval import read_as_new_patients

SURE = [0.997, 0.001, 0.001, 0.001]  # reads class 0
UNSURE = [0.1, 0.7, 0.1, 0.1]  # reads class 1


def fold(number: int, readings: list[tuple[int, list[float], bool]]) -> dict:
    return {
        "fold": number,
        "predictions": [
            {"label": label, "probabilities": probabilities, "refused": refused}
            for label, probabilities, refused in readings
        ],
    }


# Fitted on these: sure readings right, unsure ones wrong, so the threshold falls
# between the two.
OTHERS = [
    fold(1, [(0, SURE, False)] * 90 + [(0, UNSURE, False)] * 10),
    fold(2, [(0, SURE, False)] * 90 + [(0, UNSURE, False)] * 10),
]


def test_a_wrong_reading_as_sure_as_the_right_ones_goes_unflagged():
    # Files of class 1 read as class 0 with the sure readings' confidence.
    held_out = fold(0, [(0, SURE, False)] * 8 + [(1, SURE, False)] * 2)

    reading = read_as_new_patients(held_out, OTHERS)

    assert reading["confidently_wrong"] == pytest.approx(0.2)
    assert reading["uncertain_share"] == 0.0


def test_unsure_readings_are_flagged_and_refused_ones_are_neither():
    held_out = fold(0, [(0, SURE, False)] * 6 + [(0, UNSURE, False)] * 2 + [(3, SURE, True)] * 2)

    reading = read_as_new_patients(held_out, OTHERS)

    assert reading["confidently_wrong"] == 0.0
    assert reading["uncertain_share"] == pytest.approx(0.2)


def test_the_rule_given_sets_the_threshold():
    held_out = fold(0, [(0, SURE, False)] * 8 + [(0, UNSURE, False)] * 2)

    reading = read_as_new_patients(held_out, OTHERS, rule=lambda p, y: 0.0)

    # Nothing is flagged: the two unsure readings are wrong and pass.
    assert reading["threshold"] == 0.0
    assert reading["confidently_wrong"] == pytest.approx(0.2)
    assert reading["uncertain_share"] == 0.0
