from __future__ import annotations

import numpy as np
import pytest
from factories import synthetic_slice

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

    report = evaluate_folder(load_classifier(tiny_version), [dataset_dir], batch_size=5)

    assert report["n_images"] == 24
    assert sum(map(sum, report["confusion_matrix"])) == 24
    assert [row for row in map(sum, report["confusion_matrix"])] == [6, 6, 6, 6]
    assert report["model_version"] == tiny_version.name
    assert [s["path"].endswith("broken.png") for s in report["skipped"]] == [True]


def test_several_folders_are_evaluated_together_with_duplicates_counted_once(
    tiny_version, dataset_dir, tmp_path
):
    extra = tmp_path / "extra"
    for label, name in enumerate(("Cyst", "Normal", "Stone", "Tumor")):
        (extra / name).mkdir(parents=True)
        for number in (701, 702):
            synthetic_slice(label, number).save(extra / name / f"{name}- ({number}).jpg")
    (extra / "Cyst" / "Cyst- (900).jpg").write_bytes(
        (dataset_dir / "Cyst" / "Cyst- (1).jpg").read_bytes()
    )

    report = evaluate_folder(load_classifier(tiny_version), [dataset_dir, extra])

    assert report["n_images"] == 24 + 8  # the copy of Cyst 1 counted once
    assert "attention_in_body" not in report  # only with an explainer


def test_attention_in_body_is_reported_per_class_with_an_explainer(tiny_version, dataset_dir):
    from mlcore.explain import GradCam

    classifier = load_classifier(tiny_version)
    report = evaluate_folder(
        classifier, [dataset_dir], explainer=GradCam.from_version(tiny_version)
    )

    attention = report["attention_in_body"]
    assert 0 < attention["n_images"] <= 24  # a slice whose heatmap is all zero has no share
    assert set(attention["per_class"]) == {"Cyst", "Normal", "Stone", "Tumor"}
    assert 0 <= attention["mean"] <= 1
    # The yardstick on the same slices: looking evenly at the body, at this resolution.
    even = attention["even_body"]
    assert even["n_images"] == attention["n_images"]
    assert set(even["per_class"]) == {"Cyst", "Normal", "Stone", "Tumor"}
    assert 0.5 < even["mean"] <= 1
