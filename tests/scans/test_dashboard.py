from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scans.models import Scan
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def known_reviews(alice, rita, make_scan):
    """Six read scans, five reviewed: the reviewer agrees with the AI three times.

    truth \\ AI   Cyst Normal Stone Tumor
    Cyst           1     0     1     0
    Normal         0     1     0     0
    Stone          0     0     1     0
    Tumor          0     0     0     0      (plus one Tumor reading corrected to Normal)
    """
    now = timezone.now()
    plan = [
        ("Cyst", "confirmed"),
        ("Normal", "confirmed"),
        ("Stone", "confirmed"),
        ("Stone", "Cyst"),
        ("Tumor", "Normal"),
        ("Cyst", None),
    ]
    scans = []
    for i, (label, verdict) in enumerate(plan):
        scan = make_scan(alice, label=label, uploaded_at=now - timedelta(days=i % 2))
        Scan.objects.filter(pk=scan.pk).update(done_at=scan.uploaded_at + timedelta(seconds=i + 1))
        if verdict:
            review_create(scan=scan, reviewer=rita, verdict=verdict)
        scans.append(scan)
    make_scan(alice, status=Scan.Status.FAILED)
    return scans


def test_dashboard_numbers_on_a_known_set(client, rita, known_reviews):
    client.force_login(rita)
    stats = client.get(reverse("dashboard")).context["stats"]

    assert (stats["reviewed"], stats["agreed"]) == (5, 3)
    assert stats["agreement"] == pytest.approx(0.6)
    assert stats["confusion_matrix"] == [[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert stats["per_class"]["Cyst"]["recall"] == pytest.approx(0.5)
    assert stats["per_class"]["Stone"]["precision"] == pytest.approx(0.5)
    assert stats["per_class"]["Tumor"]["recall"] is None  # no true tumour reviewed
    assert stats["per_class"]["Tumor"]["precision"] == 0
    assert stats["by_model_version"]["test-version"]["reviewed"] == 5
    assert stats["by_status"] == {"done": 6, "failed": 1}
    assert stats["uploaded"] == 7
    assert sum(stats["uploads_by_day"].values()) == 7
    assert stats["result_seconds_mean"] == pytest.approx(3.5)  # 1..6 s
    assert stats["result_seconds_p95"] == pytest.approx(6)


def test_dashboard_draws_the_heatmap_and_day_charts(client, rita, known_reviews):
    client.force_login(rita)
    html = client.get(reverse("dashboard") + "?days=7").content.decode()

    assert html.count('<td class="diagonal"') == 4
    assert 'data-shade="0.50"' in html  # half of the true cysts were read as cysts
    assert html.count('class="bar day-bar"') == 7
    assert "60.0%" in html
    assert 'class="line agreement-line"' in html


def test_dashboard_filters_by_model_version(client, rita, known_reviews):
    client.force_login(rita)
    stats = client.get(reverse("dashboard") + "?model_version=other").context["stats"]
    assert stats["reviewed"] == 5  # an unknown version is ignored, not an error

    stats = client.get(reverse("dashboard") + "?model_version=test-version").context["stats"]
    assert stats["reviewed"] == 5


def test_empty_dashboard_renders(client, rita):
    client.force_login(rita)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"No reviews in this period." in response.content


def test_clinicians_do_not_see_the_dashboard(client, alice):
    client.force_login(alice)
    assert client.get(reverse("dashboard")).status_code == 403
