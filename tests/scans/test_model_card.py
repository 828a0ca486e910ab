from __future__ import annotations

import json
import shutil

import pytest
from django.urls import reverse
from factories import OLD

from scans.services.model_versions import model_versions_sync

ROW = {
    "balanced_accuracy": 0.734,
    "accuracy": 0.784,
    "recall_Cyst": 0.743,
    "recall_Normal": 0.928,
    "recall_Stone": 0.621,
    "recall_Tumor": 0.644,
    "attention_in_body": 0.53,
    "confidently_wrong": 0.08,
    "refused_share": 0.001,
}


@pytest.fixture
def crossvalidated_version(settings, tiny_version, tmp_path):
    """A models folder whose active version carries cross-validation metrics."""
    root = tmp_path / "models"
    shutil.copytree(tiny_version, root / "cv-version")
    path = root / "cv-version" / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["version"] = "cv-version"
    metadata["metrics"]["crossvalidation"] = {
        "folds": 2,
        "per_fold": [{"fold": 0, **ROW}, {"fold": 1, **ROW, "balanced_accuracy": 0.774}],
        "mean": {**ROW, "balanced_accuracy": 0.754},
        "spread": dict.fromkeys(ROW, 0.02),
    }
    path.write_text(json.dumps(metadata))
    (root / "ACTIVE").write_text("cv-version\n")
    settings.MODELS_DIR = root
    return root


def test_home_page_shows_the_cross_validated_figure_with_a_link_to_the_card(
    client, alice, crossvalidated_version
):
    client.force_login(alice)

    html = client.get(reverse("home")).content.decode()

    assert "balanced accuracy 75.4% ± 2.0% on patients it never saw" in html
    assert "mean over 2 patient-block folds" in html
    assert f'href="{reverse("model_card")}"' in html


def test_model_card_lists_every_fold_and_the_mean(client, alice, crossvalidated_version):
    client.force_login(alice)

    html = client.get(reverse("model_card")).content.decode()

    assert "Model version cv-version" in html
    assert "<td>73.4%</td>" in html and "<td>77.4%</td>" in html  # each fold
    assert "<strong>75.4%</strong><br><small>± 2.0%</small>" in html  # the mean, not the best
    assert "Stone recall" in html


def test_a_version_without_cross_validation_says_so(
    client, alice, settings, tiny_version, tmp_path
):
    # The tiny training's version was validated on one held-out split only.
    root = tmp_path / "models"
    shutil.copytree(tiny_version, root / tiny_version.name)
    (root / "ACTIVE").write_text(f"{tiny_version.name}\n")
    settings.MODELS_DIR = root
    client.force_login(alice)

    html = client.get(reverse("model_card") + f"?version={tiny_version.name}").content.decode()

    assert f"Model version {tiny_version.name}" in html
    assert "was not cross-validated over patient blocks" in html


def test_model_card_needs_a_login_and_an_existing_version(client, alice, two_versions):
    assert client.get(reverse("model_card")).status_code == 302
    client.force_login(alice)
    assert client.get(reverse("model_card") + "?version=v404").status_code == 404
    # A path is never read, even one that holds a version.
    outside = f"?version={two_versions / OLD}"
    assert client.get(reverse("model_card") + outside).status_code == 404
    assert client.get(reverse("model_card") + f"?version=../models/{OLD}").status_code == 404


def test_admin_shows_the_cross_validated_figure_linked_to_the_card(
    client, adam, crossvalidated_version
):
    model_versions_sync(models_dir=crossvalidated_version)
    client.force_login(adam)

    html = client.get(reverse("admin:scans_modelversion_changelist")).content.decode()

    assert "balanced accuracy 75.4% ± 2.0%" in html
    assert reverse("model_card") + "?version=cv-version" in html
