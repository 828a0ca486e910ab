from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scans.models import Scan

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [scan.original_name for scan in response.context["page"].object_list]


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_history_lists_only_own_scans_newest_first(client, alice, bob, make_scan):
    now = timezone.now()
    make_scan(alice, name="old.png", uploaded_at=now - timedelta(days=2))
    make_scan(alice, name="new.png", uploaded_at=now)
    make_scan(bob, name="bobs.png")
    client.force_login(alice)
    response = client.get(reverse("home"))

    assert names(response) == ["new.png", "old.png"]
    assert b"bobs.png" not in response.content


def test_history_shows_thumbnail_status_diagnosis_and_confidence(client, alice, make_scan):
    scan = make_scan(alice, label="Tumor", confidence=0.912)
    make_scan(alice, status=Scan.Status.QUEUED, name="waiting.png")
    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()

    assert reverse("scan_thumbnail", args=[scan.pk]) in html
    assert ">Tumor</span>" in html
    assert "91.2%" in html
    assert ">Queued</span>" in html


def test_history_counts_readings_per_diagnosis(client, alice, bob, make_scan):
    make_scan(alice, label="Cyst")
    make_scan(alice, label="Cyst")
    make_scan(alice, label="Stone")
    make_scan(alice, status=Scan.Status.FAILED)
    make_scan(bob, label="Tumor")
    client.force_login(alice)
    counts = client.get(reverse("home")).context["counts"]
    assert counts == {"Cyst": 2, "Normal": 0, "Stone": 1, "Tumor": 0}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("diagnosis=Stone", ["stone.png"]),
        ("status=failed", ["broken.png"]),
        ("q=STUDY-7", ["cyst.png"]),  # the note, case-insensitive
        ("q=broken", ["broken.png"]),  # the file name
        ("date_from=2026-03-02", ["stone.png"]),
        ("date_to=2026-03-01", ["broken.png", "cyst.png"]),
        ("date_from=2026-03-01&date_to=2026-03-01&diagnosis=Cyst", ["cyst.png"]),
        ("diagnosis=Normal", []),
    ],
)
def test_history_filters(client, alice, make_scan, query, expected):
    day = datetime(2026, 3, 1, 12, tzinfo=timezone.get_current_timezone())
    make_scan(alice, name="cyst.png", label="Cyst", note="study-7", uploaded_at=day)
    make_scan(alice, name="broken.png", status=Scan.Status.FAILED, uploaded_at=day)
    make_scan(alice, name="stone.png", label="Stone", uploaded_at=day + timedelta(days=1))
    client.force_login(alice)
    response = client.get(f"{reverse('home')}?{query}")
    assert names(response) == expected


def test_invalid_filter_is_reported_and_ignored(client, alice, make_scan):
    make_scan(alice, name="a.png")
    client.force_login(alice)
    response = client.get(f"{reverse('home')}?date_from=yesterday")
    assert names(response) == ["a.png"]
    assert b"Enter a date as year-month-day" in response.content


def test_history_is_paged_and_keeps_the_filters(client, alice, make_scan):
    now = timezone.now()
    for i in range(25):
        make_scan(alice, name=f"{i:02}.png", label="Cyst", uploaded_at=now - timedelta(minutes=i))
    client.force_login(alice)
    first = client.get(f"{reverse('home')}?diagnosis=Cyst")
    second = client.get(f"{reverse('home')}?diagnosis=Cyst&page=2")

    assert len(names(first)) == 20
    assert names(second) == [f"{i:02}.png" for i in range(20, 25)]
    assert b"diagnosis=Cyst&amp;page=2" in first.content


def test_empty_history_invites_a_first_upload(client, alice):
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert b"You have not uploaded any scans yet." in response.content


def test_history_says_when_no_model_is_available(client, alice, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    client.force_login(alice)
    assert b"No AI model is available." in client.get(reverse("home")).content
