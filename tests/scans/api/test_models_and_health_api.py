from __future__ import annotations

import json

import pytest
from factories import NEW, OLD

from scans.services.model_versions import model_versions_sync

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/health/"


def test_models_lists_every_version_with_its_metrics_and_the_active_one(
    api_as, alice, two_versions
):
    model_versions_sync(models_dir=two_versions)
    body = api_as(alice).get("/api/v1/models/").json()

    by_id = {version["id"]: version for version in body}
    assert set(by_id) == {OLD, NEW}
    assert by_id[OLD]["is_active"] is True
    assert by_id[NEW]["is_active"] is False
    for version in (OLD, NEW):
        metrics = json.loads((two_versions / version / "metadata.json").read_text())["metrics"]
        validation = metrics.get("validation") or {"per_class": {}}
        assert by_id[version]["validation_accuracy"] == validation.get("accuracy")
        assert by_id[version]["recall"] == {
            name: pytest.approx(row["recall"]) for name, row in validation["per_class"].items()
        }
        crossvalidation = metrics.get("crossvalidation") or {"mean": {}}
        assert by_id[version]["crossvalidated_balanced_accuracy"] == (
            crossvalidation["mean"].get("balanced_accuracy")
        )


def test_models_needs_credentials(api):
    assert api.get("/api/v1/models/").status_code == 401


def test_health_is_200_when_database_broker_and_model_can_serve(api):
    response = api.get(HEALTH)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["broker"] == {"ok": True}
    assert body["model"]["ok"] is True
    assert body["model"]["version"]
    assert response["Cache-Control"] == "no-store"


def test_health_needs_no_credentials_and_ignores_wrong_ones(api):
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get(HEALTH).status_code == 200


def test_health_is_503_without_an_active_model(api, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    response = api.get(HEALTH)
    assert response.status_code == 503
    assert response.json()["model"] == {
        "ok": False,
        "detail": "No model version is active.",
        "version": None,
    }


def test_health_is_503_when_the_active_versions_model_file_is_gone(api, settings, tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "metadata.json").write_text(json.dumps({"version": "v1"}))
    (tmp_path / "ACTIVE").write_text("v1\n")
    settings.MODELS_DIR = tmp_path
    body = api.get(HEALTH).json()
    assert body["model"] == {
        "ok": False,
        "detail": "The active version has no model.tflite.",
        "version": "v1",
    }


def test_health_is_503_when_the_broker_is_down_and_tells_no_secrets(api, unreachable_broker):
    response = api.get(HEALTH)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["broker"] == {
        "ok": False,
        "detail": "The task broker is unreachable: scans stay queued.",
    }
    text = response.content.decode()
    assert "hunter2" not in text and "127.0.0.1" not in text and "redis" not in text
