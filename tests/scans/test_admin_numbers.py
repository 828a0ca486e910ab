"""The admin writes numbers as the site does: percent with one decimal, whole
milliseconds; never a float's full repr."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from scans.models import ModelVersion
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db

RAW_FLOAT = re.compile(r"\d\.\d{5,}")


@pytest.fixture
def read_scan(alice, adam, make_scan):
    scan = make_scan(alice, label="Stone", confidence=0.9975631237030029)
    scan.prediction.milliseconds = 8.845208000025195
    scan.prediction.save()
    ModelVersion.objects.filter(pk="test-version").update(
        metrics={"validation": {"accuracy": 0.9731234567, "n_images": 1000}}
    )
    review_create(scan=scan, reviewer=adam, verdict="confirmed")
    return scan


def admin_pages(scan) -> list[str]:
    review = scan.reviews.get()
    return [
        reverse("admin:scans_scan_changelist"),
        reverse("admin:scans_scan_change", args=[scan.pk]),
        reverse("admin:scans_review_changelist"),
        reverse("admin:scans_review_change", args=[review.pk]),
        reverse("admin:scans_modelversion_changelist"),
        reverse("admin:scans_modelversion_change", args=["test-version"]),
    ]


def test_admin_pages_show_no_raw_floats(client, adam, read_scan):
    client.force_login(adam)
    for url in admin_pages(read_scan):
        html = client.get(url).content.decode()
        found = [html[max(0, m.start() - 200) : m.end()] for m in RAW_FLOAT.finditer(html)]
        assert not found, (url, found)


def test_admin_writes_confidence_and_time_as_the_site_does(client, adam, read_scan):
    client.force_login(adam)
    scan_page = client.get(reverse("admin:scans_scan_change", args=[read_scan.pk]))
    html = scan_page.content.decode()
    assert "99.8%" in html and "100%" not in html
    assert "8.8 ms" in html
    review = read_scan.reviews.get()
    html = client.get(reverse("admin:scans_review_change", args=[review.pk])).content.decode()
    assert "Stone 99.8%" in html


def test_admin_columns_numbers_and_messages_follow_the_language(client, adam, read_scan):
    client.force_login(adam)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"

    scans = client.get(reverse("admin:scans_scan_changelist")).content.decode()
    versions = client.get(reverse("admin:scans_modelversion_changelist")).content.decode()
    confirmed = client.post(
        reverse("admin:scans_scan_changelist"),
        {"action": "mark_reviewed", "_selected_action": [read_scan.pk]},
        follow=True,
    ).content.decode()

    assert "Pembacaan AI" in scans and "99,8%" in scans and "Batu" in scans
    assert "Tandai sudah ditinjau" in scans  # the action's description
    assert "Akurasi pada data uji" in versions and "97,3%" in versions
    assert "1 pindaian dikonfirmasi." in confirmed
