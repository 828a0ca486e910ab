"""A reading's state (not a CT slice / uncertain / confident) is shown the same way on
every page, export and API, and a refused image never shows a kidney label or a
confidence (issue 17)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.apps import apps
from django.urls import reverse
from rest_framework.test import APIClient

from mlcore.crossval import out_of_fold_confusion
from scans.models import Review
from scans.selectors.model_versions import reading_caveats
from scans.selectors.reviews import dashboard_stats, worklist_for_reviewer
from scans.services.accounts import api_token_create
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scans_scan_changelist")
# A confidence no other figure on the pages has: if it shows, the state leaked.
CONFIDENCE = 0.9917


def without_controls(html: str) -> str:
    """The page without its filter menus and verdict buttons, which name every class."""
    html = re.sub(r"<select.*?</select>", "", html, flags=re.S)
    return re.sub(r"<button.*?</button>", "", html, flags=re.S)


def row_of(html: str, link: str) -> str:
    """The table row that links to ``link``: a list page's line for one scan."""
    rows = [row for row in re.findall(r"<tr.*?</tr>", html, flags=re.S) if link in row]
    assert len(rows) == 1, link
    return rows[0]


def pages(client, scan) -> dict[str, str]:
    """Every page a person reads the scan's reading on, as HTML: the scan's row of a list
    page, the whole of a scan's own page (filters and buttons removed)."""
    lists = {
        "history": (reverse("home"), reverse("scan_detail", args=[scan.pk])),
        "worklist": (reverse("worklist"), reverse("review", args=[scan.pk])),
        "admin list": (CHANGELIST, reverse("admin:scans_scan_change", args=[scan.pk])),
    }
    own = {
        "result": reverse("scan_detail", args=[scan.pk]),
        "report": reverse("scan_report", args=[scan.pk]),
        "review": reverse("review", args=[scan.pk]),
        "admin detail": reverse("admin:scans_scan_change", args=[scan.pk]),
    }
    found = {
        name: row_of(client.get(url).content.decode(), link) for name, (url, link) in lists.items()
    }
    for name, url in own.items():
        found[name] = without_controls(client.get(url).content.decode())
    return found


def exported(client, scan) -> dict[str, str]:
    response = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [scan.pk]})
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    return dict(zip(header, row, strict=True))


def api_reading(user, scan) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).key}")
    return client.get(reverse("api-scan-detail", args=[scan.pk])).json()["prediction"]


def test_a_refused_image_shows_no_kidney_label_and_no_confidence_anywhere(client, adam, make_scan):
    scan = make_scan(adam, label="Tumor", confidence=CONFIDENCE, reading_state="not_a_ct")
    client.force_login(adam)

    for name, html in pages(client, scan).items():
        assert "99.2" not in html, name
        assert "diagnosis-tumor" not in html and ">Tumor<" not in html, name
        assert "Not a CT slice" in html or "not a CT slice" in html, name
    row = exported(client, scan)
    assert row["reading_state"] == "not_a_ct"
    assert row["ai_label"] == row["uncertain"] == ""
    assert all(row[f"p_{name}"] == "" for name in ("Cyst", "Normal", "Stone", "Tumor"))
    reading = api_reading(adam, scan)
    assert reading["reading_state"] == "not_a_ct"
    assert reading["label"] is reading["confidence"] is reading["probabilities"] is None
    assert reading["raw_probabilities"]["Tumor"] == pytest.approx(CONFIDENCE)  # named so
    status = client.get(reverse("scan_status", args=[scan.pk])).json()
    assert (status["reading_state"], status["label"], status["confidence"]) == (
        "not_a_ct",
        None,
        None,
    )


@pytest.mark.parametrize("state", ["uncertain", "confident"])
def test_a_read_slice_shows_its_label_confidence_and_state_everywhere(
    client, adam, make_scan, state
):
    scan = make_scan(adam, label="Tumor", confidence=CONFIDENCE, reading_state=state)
    client.force_login(adam)

    for name, html in pages(client, scan).items():
        assert "Tumor" in html, name
        if name not in ("review", "admin detail"):  # the chart or the card gives it there
            assert "99.2" in html, name
        marker = "Tumor (uncertain)" if name.startswith("admin") else "needs review"
        assert (marker in html) == (state == "uncertain"), name
        assert "Not a CT slice" not in html, name
    row = exported(client, scan)
    assert (row["reading_state"], row["ai_label"], row["p_Tumor"]) == (state, "Tumor", "0.991700")
    assert row["uncertain"] == str(state == "uncertain").lower()
    reading = api_reading(adam, scan)
    assert (reading["reading_state"], reading["label"]) == (state, "Tumor")
    assert reading["confidence"] == pytest.approx(CONFIDENCE)
    assert reading["probabilities"] == reading["raw_probabilities"]


def test_a_refusal_is_confirmed_or_overruled_and_confirm_alone_is_refused(
    client, alice, rita, make_scan
):
    confirmed = make_scan(alice, label="Stone", reading_state="not_a_ct")
    overruled = make_scan(alice, label="Stone", reading_state="not_a_ct")
    client.force_login(rita)

    html = client.get(reverse("review", args=[confirmed.pk])).content.decode()
    assert 'value="not_a_ct" data-key="c">Confirm: not a kidney CT slice' in html
    assert 'value="confirmed"' not in html and "Confirm Stone" not in html
    assert "It is a CT slice: Cyst" in html
    response = client.post(reverse("review", args=[confirmed.pk]), {"verdict": "confirmed"})
    assert response.status_code == 400 and not Review.objects.exists()

    client.post(reverse("review", args=[confirmed.pk]), {"verdict": "not_a_ct"})
    client.post(reverse("review", args=[overruled.pk]), {"verdict": "Cyst"})
    first = Review.objects.get(scan=confirmed)
    second = Review.objects.get(scan=overruled)
    assert (first.ai_label, first.true_label, first.agrees) == ("", "", True)
    assert (second.ai_label, second.true_label, second.agrees) == ("", "Cyst", False)
    history = client.get(reverse("review", args=[overruled.pk])).content.decode()
    assert "Corrected to Cyst</strong> by rita" in history and "(AI said Not a CT slice)" in history


def test_a_reading_can_be_called_no_ct_slice_by_the_reviewer(client, alice, rita, make_scan):
    scan = make_scan(alice, label="Cyst")
    client.force_login(rita)
    html = client.get(reverse("review", args=[scan.pk])).content.decode()
    assert 'value="not_a_ct" class="secondary" data-key="x"' in html

    client.post(reverse("review", args=[scan.pk]), {"verdict": "not_a_ct"})
    review = Review.objects.get()
    assert (review.ai_label, review.true_label, review.agrees) == ("Cyst", "", False)


def test_dashboard_keeps_refusals_out_of_agreement_and_the_matrix(client, alice, rita, make_scan):
    agreed = make_scan(alice, label="Cyst")
    refused_confirmed = make_scan(alice, label="Tumor", reading_state="not_a_ct")
    refused_overruled = make_scan(alice, label="Tumor", reading_state="not_a_ct")
    missed = make_scan(alice, label="Stone")
    make_scan(alice, label="Normal", reading_state="uncertain")
    review_create(scan=agreed, reviewer=rita, verdict="confirmed")
    review_create(scan=refused_confirmed, reviewer=rita, verdict="not_a_ct")
    review_create(scan=refused_overruled, reviewer=rita, verdict="Normal")
    review_create(scan=missed, reviewer=rita, verdict="not_a_ct")

    stats = dashboard_stats(since=agreed.uploaded_at.date())

    assert (stats["reviewed"], stats["agreed"], stats["agreement"]) == (1, 1, 1.0)
    assert sum(map(sum, stats["confusion_matrix"])) == 1
    assert stats["per_class"]["Normal"]["support"] == 0
    assert stats["refusals"] == {"reviewed": 2, "confirmed": 1, "overruled": 1, "missed": 1}
    assert stats["by_reading_state"] == {"not_a_ct": 2, "uncertain": 1, "confident": 2}
    assert stats["by_model_version"]["test-version"] == {"reviewed": 1, "agreed": 1, "rate": 1.0}
    client.force_login(rita)
    html = client.get(reverse("dashboard")).content.decode()
    assert "1 confirmed, 1 overruled; 1 readings a reviewer said were no CT slice" in html


def test_worklist_filters_and_keeps_refusals_in_their_own_group(client, alice, rita, make_scan):
    unsure = make_scan(alice, label="Stone", confidence=0.41, reading_state="uncertain")
    sure = make_scan(alice, label="Cyst", confidence=0.99)
    refused = make_scan(alice, label="Tumor", confidence=0.30, reading_state="not_a_ct")
    done = make_scan(alice, label="Normal", confidence=0.2)
    review_create(scan=done, reviewer=rita, verdict="confirmed")

    def order(**filters) -> list[int]:
        return [scan.pk for scan in worklist_for_reviewer(**filters)]

    assert order() == [unsure.pk, sure.pk, refused.pk, done.pk]
    assert order(show="unreviewed") == [unsure.pk, sure.pk, refused.pk]
    assert order(show="uncertain") == [unsure.pk]
    assert order(show="not_a_ct") == [refused.pk]
    assert order(ai_label="Tumor") == []  # a refusal has no AI label
    assert order(ai_label="Cyst") == [sure.pk]
    assert order(model_version="test-version") == order()
    assert order(model_version="another") == []
    client.force_login(rita)
    response = client.get(reverse("worklist"), {"show": "not_a_ct"})
    assert [s.pk for s in response.context["page"].object_list] == [refused.pk]
    link = f"{reverse('review', args=[refused.pk])}?show=not_a_ct"
    assert link in response.content.decode()
    # After a verdict the next scan comes from the same filtered list.
    other = make_scan(alice, label="Tumor", reading_state="not_a_ct")
    after = client.post(f"{link}", {"verdict": "not_a_ct"})
    assert after.url == f"{reverse('review', args=[other.pk])}?show=not_a_ct"


def test_reviews_of_refusals_made_before_the_verdict_existed_are_corrected(alice, rita, make_scan):
    from importlib import import_module

    migration = import_module("scans.migrations.0007_review_not_a_ct")
    scan = make_scan(alice, label="Stone", reading_state="not_a_ct")
    Review.objects.create(
        scan=scan,
        reviewer=rita,
        verdict="confirmed",
        prediction=scan.prediction,
        ai_label="Stone",
        true_label="Stone",
        agrees=True,
    )

    migration.reviews_of_refusals(apps, None)

    review = Review.objects.get()
    assert (review.ai_label, review.true_label, review.agrees) == ("", "Stone", False)


CROSSVALIDATION = {
    "mean": {
        "recall_Cyst": 0.71,
        "recall_Normal": 0.93,
        "recall_Stone": 0.56,
        "recall_Tumor": 0.72,
    },
    "confusion": {
        "classes": ["Cyst", "Normal", "Stone", "Tumor"],
        "matrix": [[120, 0, 41, 9], [0, 206, 2, 33], [20, 4, 37, 3], [3, 27, 6, 93]],
    },
}


def test_weak_classes_of_the_reading_and_its_runner_up_are_named(make_scan, alice):
    stone = make_scan(alice, label="Stone", confidence=0.6)
    stone.prediction.probabilities = {"Cyst": 0.3, "Normal": 0.05, "Stone": 0.6, "Tumor": 0.05}
    normal = make_scan(alice, label="Normal", confidence=0.97)
    metadata = {"metrics": {"crossvalidation": CROSSVALIDATION}}

    assert reading_caveats(prediction=stone.prediction, metadata=metadata) == [
        "On new patients this model version recognises 6 of 10 stones; "
        "a stone may be read as a cyst.",
        "On new patients this model version recognises 7 of 10 cysts; "
        "a cyst may be read as a stone.",
    ]
    # Normal is found 9 of 10 times (not weak); its runner-up Cyst (0.01) is.
    assert reading_caveats(prediction=normal.prediction, metadata=metadata) == [
        "On new patients this model version recognises 7 of 10 cysts; "
        "a cyst may be read as a stone."
    ]
    refused = make_scan(alice, label="Stone", reading_state="not_a_ct")
    assert reading_caveats(prediction=refused.prediction, metadata=metadata) == []
    assert reading_caveats(prediction=stone.prediction, metadata={"metrics": {}}) == []
    without_confusion = {"metrics": {"crossvalidation": {"mean": CROSSVALIDATION["mean"]}}}
    assert reading_caveats(prediction=stone.prediction, metadata=without_confusion)[0] == (
        "On new patients this model version recognises 6 of 10 stones."
    )


CORONAL = "The body fills this slice from top to bottom, as in a coronal or sagittal slice."


def test_a_coronal_reading_gets_its_own_caveat_first_whatever_the_version(make_scan, alice):
    stone = make_scan(alice, label="Stone", confidence=0.6)
    stone.prediction.probabilities = {"Cyst": 0.3, "Normal": 0.05, "Stone": 0.6, "Tumor": 0.05}
    metadata = {"metrics": {"crossvalidation": CROSSVALIDATION}}
    axial = reading_caveats(prediction=stone.prediction, metadata=metadata)
    stone.prediction.fills_frame = True

    caveats = reading_caveats(prediction=stone.prediction, metadata=metadata)

    assert caveats[0].startswith(CORONAL) and caveats[1:] == axial
    assert reading_caveats(prediction=stone.prediction, metadata={})[0].startswith(CORONAL)
    refused = make_scan(alice, label="Stone", reading_state="not_a_ct")
    refused.prediction.fills_frame = True
    assert reading_caveats(prediction=refused.prediction, metadata=metadata) == []


def test_result_report_and_review_pages_give_the_coronal_caveat(client, rita, alice, make_scan):
    coronal, axial, unmeasured = make_scan(alice), make_scan(alice), make_scan(alice)
    coronal.prediction.fills_frame, axial.prediction.fills_frame = True, False
    coronal.prediction.save()
    axial.prediction.save()

    client.force_login(rita)
    for url in ("scan_detail", "scan_report", "review"):
        assert CORONAL in client.get(reverse(url, args=[coronal.pk])).content.decode(), url
        for other in (axial, unmeasured):
            assert CORONAL not in client.get(reverse(url, args=[other.pk])).content.decode(), url


def test_the_admin_shows_each_readings_plane_flag(client, admin_user, alice, make_scan):
    scan = make_scan(alice)
    scan.prediction.fills_frame = True
    scan.prediction.save()
    client.force_login(admin_user)

    html = client.get(reverse("admin:scans_scan_change", args=[scan.pk])).content.decode()

    assert "Body fills the slice from top to bottom (coronal or sagittal)" in html
    assert 'alt="True"' in html  # Django's yes icon in the prediction history
    scan.prediction.fills_frame = None  # not measured: the unknown icon
    scan.prediction.save()
    html = client.get(reverse("admin:scans_scan_change", args=[scan.pk])).content.decode()
    assert 'alt="True"' not in html and 'alt="None"' in html


def test_the_api_and_the_export_tell_coronal_axial_and_not_measured_apart(client, adam, make_scan):
    coronal, axial, unmeasured = make_scan(adam), make_scan(adam), make_scan(adam)
    refused = make_scan(adam, reading_state="not_a_ct")
    for scan, value in ((coronal, True), (axial, False), (refused, True)):
        scan.prediction.fills_frame = value
        scan.prediction.save()
    client.force_login(adam)

    expected = {coronal: True, axial: False, unmeasured: None, refused: None}
    for scan, value in expected.items():
        assert api_reading(adam, scan)["fills_frame"] is value
        assert exported(client, scan)["fills_frame"] == (
            "" if value is None else str(value).lower()
        )


def test_result_report_and_review_pages_give_the_weak_class_sentence(
    client, settings, tmp_path, alice, rita, make_scan
):
    version = tmp_path / "models" / "test-version"
    version.mkdir(parents=True)
    calibration = {"temperature": 0.76, "ece_before": 0.095, "ece_after_in_sample": 0.067}
    metadata = {
        "version": "test-version",
        "metrics": {"crossvalidation": CROSSVALIDATION},
        "calibration": {**calibration, "n_images": 6058, "fitted_on": "out-of-fold predictions"},
    }
    (version / "metadata.json").write_text(json.dumps(metadata))
    settings.MODELS_DIR = tmp_path / "models"
    scan = make_scan(alice, label="Stone", confidence=0.6)
    sentence = "recognises 6 of 10 stones; a stone may be read as a cyst."

    client.force_login(rita)
    for url in ("scan_detail", "scan_report", "review"):
        assert sentence in client.get(reverse(url, args=[scan.pk])).content.decode(), url
    report = client.get(reverse("scan_report", args=[scan.pk])).content.decode()
    assert (
        "fitted on 6058 out-of-fold predictions; expected calibration error 9.5% before, " in report
    )
    assert "6.7% after, measured on the same predictions" in report


def test_out_of_fold_confusion_counts_every_slice_not_refused():
    record = {
        "recipe": {"class_names": ["A", "B"]},
        "fold": 0,
        "predictions": [
            {"label": 0, "probabilities": [0.9, 0.1], "refused": False},
            {"label": 0, "probabilities": [0.2, 0.8], "refused": False},
            {"label": 1, "probabilities": [0.3, 0.7], "refused": False},
            {"label": 1, "probabilities": [0.9, 0.1], "refused": True},
        ],
    }
    assert out_of_fold_confusion([record]) == {"classes": ["A", "B"], "matrix": [[1, 1], [0, 1]]}
