"""What the pages tell the user: after logging out, and for a date range that cannot be
used in the history's filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [scan.original_name for scan in response.context["page"].object_list]


def test_logging_out_says_so_on_the_login_page(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert b"You have logged out." in response.content
    assert client.get(reverse("login")).content.count(b"You have logged out.") == 0  # once


def test_logging_out_when_not_logged_in_says_nothing(client):
    response = client.post(reverse("logout"), follow=True)
    assert b"You have logged out." not in response.content


def test_reversed_date_range_is_an_error_and_not_applied(client, alice, make_scan):
    make_scan(alice, name="a.png", uploaded_at=timezone.now() - timedelta(days=3))
    client.force_login(alice)
    response = client.get(reverse("home"), {"date_from": "2026-05-10", "date_to": "2026-05-01"})

    html = response.content.decode()
    assert 'role="alert" class="errors filter-errors"' in html
    assert "The date range is reversed" in html
    assert names(response) == ["a.png"]  # the dates are ignored, not an empty page
    assert "data-keep-open" in html  # the filters stay unfolded on a phone


def test_date_range_in_order_filters(client, alice, make_scan):
    now = timezone.now()
    make_scan(alice, name="old.png", uploaded_at=now - timedelta(days=10))
    make_scan(alice, name="new.png", uploaded_at=now)
    client.force_login(alice)
    today = timezone.localdate()
    response = client.get(
        reverse("home"), {"date_from": today - timedelta(days=1), "date_to": today}
    )
    assert names(response) == ["new.png"]
    assert b"The date range is reversed" not in response.content


def test_one_day_range_is_not_reversed(client, alice, make_scan):
    make_scan(alice, name="a.png")
    client.force_login(alice)
    today = timezone.localdate().isoformat()
    response = client.get(reverse("home"), {"date_from": today, "date_to": today})
    assert names(response) == ["a.png"]
    assert b"filter-errors" not in response.content


def test_malformed_date_is_named_with_the_format_to_use(client, alice, make_scan):
    make_scan(alice, name="a.png")
    client.force_login(alice)
    response = client.get(reverse("home"), {"date_to": "31/12/2026"})
    html = response.content.decode()
    assert "Enter a date as year-month-day, for example 2026-05-01." in html
    assert names(response) == ["a.png"]


def test_malformed_date_with_nothing_to_show_says_to_correct_the_filters(client, alice):
    client.force_login(alice)
    response = client.get(reverse("home"), {"date_to": "soon"})
    assert b"Correct the filters above" in response.content
    assert b"You have not uploaded any scans yet." not in response.content
