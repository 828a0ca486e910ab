from __future__ import annotations

import numpy as np
import pytest

from mlcore.evaluation import classification_report, evaluate_folder
from mlcore.inference import load_classifier


def test_report_on_a_known_case():
    true = np.array([0, 0, 1, 1, 2, 3])
    probabilities = np.eye(4)[[0, 1, 1, 1, 2, 2]]

    report = classification_report(true, probabilities, ["A", "B", "C", "D"])

    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [
        [1, 1, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
    ]
    assert report["per_class"]["A"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert report["per_class"]["B"]["precision"] == pytest.approx(2 / 3)
    assert report["per_class"]["C"]["precision"] == pytest.approx(0.5)
    assert report["per_class"]["D"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["classes"] == ["A", "B", "C", "D"]
    assert report["n_images"] == 6


def test_folder_evaluation_counts_every_readable_image(tiny_version, dataset_dir):
    (dataset_dir / "Normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")

    report = evaluate_folder(load_classifier(tiny_version), dataset_dir, batch_size=5)

    assert report["n_images"] == 24
    assert sum(map(sum, report["confusion_matrix"])) == 24
    assert [row for row in map(sum, report["confusion_matrix"])] == [6, 6, 6, 6]
    assert report["model_version"] == tiny_version.name
    assert [s["path"].endswith("broken.png") for s in report["skipped"]] == [True]
