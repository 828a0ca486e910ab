from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings
from django.urls import reverse
from factories import NEW, OLD

from mlcore import data, versions
from scans.classifier import classifier_get
from scans.models import AuditEvent, Diagnosis, Review, Scan
from scans.selectors.model_versions import active_model_version
from scans.services.model_versions import model_versions_sync
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scans_scan_changelist")


def listed(client, query: str = "") -> list[int]:
    return sorted(s.pk for s in client.get(f"{CHANGELIST}?{query}").context["cl"].result_list)


@pytest.fixture
def reviewed_set(alice, bob, rita, make_scan):
    agreed = make_scan(alice, label="Cyst", name="agreed.png")
    corrected = make_scan(bob, label="Stone", name="corrected.png", note="study-9")
    waiting = make_scan(alice, label="Tumor", name="waiting.png")
    failed = make_scan(bob, status=Scan.Status.FAILED, name="=cmd|calc.png")
    review_create(scan=agreed, reviewer=rita, verdict="confirmed")
    review_create(scan=corrected, reviewer=rita, verdict="Cyst")
    return {"agreed": agreed, "corrected": corrected, "waiting": waiting, "failed": failed}


def test_scan_list_filters_and_search(client, rita, reviewed_set):
    ids = {name: scan.pk for name, scan in reviewed_set.items()}
    client.force_login(rita)

    assert listed(client, "reviewed=no") == sorted([ids["waiting"], ids["failed"]])
    assert listed(client, "reviewed=yes") == sorted([ids["agreed"], ids["corrected"]])
    assert listed(client, "agreement=disagree") == [ids["corrected"]]
    assert listed(client, "agreement=agree") == [ids["agreed"]]
    assert listed(client, "status__exact=failed") == [ids["failed"]]
    assert listed(client, "finding=Tumor") == [ids["waiting"]]
    assert listed(client, "q=study-9") == [ids["corrected"]]
    assert listed(client, "q=bob") == sorted([ids["corrected"], ids["failed"]])


def test_scan_list_shows_thumbnail_reading_model_and_verdict(client, rita, reviewed_set):
    client.force_login(rita)
    html = client.get(CHANGELIST).content.decode()
    assert reverse("scan_thumbnail", args=[reviewed_set["agreed"].pk]) in html
    assert "Corrected to Cyst (rita)" in html
    assert "test-version" in html
    assert "90.0%" in html


def test_scan_detail_shows_image_chart_and_prediction_history(client, rita, reviewed_set):
    client.force_login(rita)
    scan = reviewed_set["corrected"]
    html = client.get(reverse("admin:scans_scan_change", args=[scan.pk])).content.decode()
    assert reverse("scan_image", args=[scan.pk]) in html
    assert "Stone</span>" in html and "90.0%" in html  # the probability chart
    assert "Prediction history" in html and "Review history" in html


def test_export_csv_has_one_row_per_scan_and_is_audited(client, rita, reviewed_set):
    client.force_login(rita)
    scans = [reviewed_set["corrected"], reviewed_set["failed"]]
    response = client.post(
        CHANGELIST, {"action": "export_csv", "_selected_action": [s.pk for s in scans]}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))

    assert response["Content-Type"].startswith("text/csv")
    assert rows[0][:3] == ["scan_id", "owner", "file_name"]
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    corrected = by_id[str(scans[0].pk)]
    assert corrected["ai_label"] == "Stone"
    assert corrected["p_Stone"] == "0.900000"
    assert corrected["model_version"] == "test-version"
    assert (corrected["review_verdict"], corrected["reviewer"]) == ("Cyst", "rita")
    assert by_id[str(scans[1].pk)]["file_name"] == "'=cmd|calc.png"  # no formula
    assert AuditEvent.objects.get(action="export").detail == {"scans": 2, "format": "csv"}


def test_mark_reviewed_confirms_the_ai_for_read_scans(client, rita, reviewed_set):
    client.force_login(rita)
    scans = [reviewed_set["waiting"], reviewed_set["failed"]]
    client.post(CHANGELIST, {"action": "mark_reviewed", "_selected_action": [s.pk for s in scans]})
    review = Review.objects.get(scan=reviewed_set["waiting"])
    assert (review.verdict, review.reviewer, review.agrees) == ("confirmed", rita, True)
    assert not Review.objects.filter(scan=reviewed_set["failed"]).exists()


def test_reclassify_sends_scans_to_the_workers_again(
    client, rita, reviewed_set, eager_tasks, django_capture_on_commit_callbacks
):
    client.force_login(rita)
    scan = reviewed_set["waiting"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(CHANGELIST, {"action": "reclassify", "_selected_action": [scan.pk]})

    scan.refresh_from_db()
    assert len(callbacks) == 1
    assert scan.status == Scan.Status.DONE
    assert scan.prediction.model_version_id == versions.active_version(settings.MODELS_DIR)
    assert set(scan.predictions.values_list("model_version", flat=True)) == {
        "test-version",
        scan.prediction.model_version_id,
    }
    assert AuditEvent.objects.filter(action="reclassify").exists()


def test_admin_activates_and_rolls_back_a_model_version(client, adam, two_versions):
    model_versions_sync()
    client.force_login(adam)
    changelist = reverse("admin:scans_modelversion_changelist")
    assert classifier_get().version == OLD

    client.post(changelist, {"action": "activate", "_selected_action": [NEW]})
    assert (two_versions / "ACTIVE").read_text().strip() == NEW
    assert active_model_version().id == NEW
    page = client.get(changelist, {"active": "yes"})
    assert [version.id for version in page.context["cl"].result_list] == [NEW]
    assert classifier_get().version == NEW  # served from the next scan on

    client.post(changelist, {"action": "activate", "_selected_action": [OLD]})
    assert classifier_get().version == OLD
    assert AuditEvent.objects.filter(action="activate_model").count() == 2


def test_a_version_reading_other_classes_is_not_activated(client, adam, two_versions):
    metadata = json.loads((two_versions / NEW / "metadata.json").read_text())
    other = two_versions / "20990101-000000"
    other.mkdir()
    metadata.update(version=other.name, class_names=["Cyst", "Normal", "Calculus", "Tumor"])
    (other / "metadata.json").write_text(json.dumps(metadata))
    model_versions_sync()
    client.force_login(adam)

    response = client.post(
        reverse("admin:scans_modelversion_changelist"),
        {"action": "activate", "_selected_action": [other.name]},
        follow=True,
    )

    assert "reads classes this site does not know (Calculus)" in response.content.decode()
    assert (two_versions / "ACTIVE").read_text().strip() == OLD
    assert not AuditEvent.objects.filter(action="activate_model").exists()


def test_the_sites_classes_are_the_ones_training_learns():
    assert tuple(Diagnosis.values) == data.CLASS_NAMES


def test_reviewer_cannot_activate_a_model_version(client, rita, two_versions):
    model_versions_sync()
    client.force_login(rita)
    response = client.get(reverse("admin:scans_modelversion_changelist"))
    assert b'value="activate"' not in response.content
    client.post(
        reverse("admin:scans_modelversion_changelist"),
        {"action": "activate", "_selected_action": [NEW]},
    )
    assert (two_versions / "ACTIVE").read_text().strip() == OLD


def test_model_version_list_shows_training_and_live_agreement(client, adam, reviewed_set):
    client.force_login(adam)
    html = client.get(reverse("admin:scans_modelversion_changelist")).content.decode()
    assert "test-version" in html
    assert "50.0%" in html  # one of the two reviewed readings was confirmed
