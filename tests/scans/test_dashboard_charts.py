"""The dashboard's day charts: axes with dates and units, readable with one day of data
and with a year."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.urls import reverse
from django.utils import timezone

from scans.charts import DATE_TICKS, _nice_top, dashboard_charts

pytestmark = pytest.mark.django_db


def stats(uploads: dict, agreement: dict | None = None) -> dict:
    return {
        "uploads_by_day": uploads,
        "agreement_by_day": agreement or {},
        "labels": [],
        "confusion_matrix": [],
    }


@pytest.mark.parametrize("days", [1, 7, 30, 90, 365])
def test_time_axis_names_the_first_and_last_day_and_a_few_between(days):
    today = timezone.localdate()
    since = today - timedelta(days=days - 1)
    ticks = dashboard_charts(stats({}), since)["day_chart"]["date_ticks"]

    assert ticks[0]["day"] == since and ticks[-1]["day"] == today
    assert 1 <= len(ticks) <= DATE_TICKS
    xs = [float(tick["x"]) for tick in ticks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    if len(xs) > 1:  # room for a label of about 50 units between two ticks
        assert min(b - a for a, b in pairwise(xs)) >= 50


def test_one_day_of_data_in_a_month_is_one_labelled_bar_on_a_scale_with_room(client):
    today = timezone.localdate()
    charts = dashboard_charts(stats({today: 3}, {today: 0.75}), today - timedelta(days=29))

    labelled = [bar for bar in charts["upload_bars"] if bar["labelled"]]
    assert [(bar["day"], bar["n"]) for bar in labelled] == [(today, 3)]
    assert [tick["value"] for tick in charts["day_chart"]["count_ticks"]] == [0, 2, 4]
    (point,) = charts["agreement_points"]
    assert point["labelled"] and point["rate"] == 0.75


def test_a_year_of_data_draws_every_day_without_a_label_on_each():
    today = timezone.localdate()
    since = today - timedelta(days=364)
    uploads = {since + timedelta(days=i): i % 7 + 1 for i in range(365)}
    charts = dashboard_charts(stats(uploads), since)

    assert len(charts["upload_bars"]) == 365
    assert not any(bar["labelled"] for bar in charts["upload_bars"])
    assert all(float(bar["width"]) >= 1 for bar in charts["upload_bars"])
    assert charts["day_chart"]["count_ticks"][-1]["value"] == 10


@pytest.mark.parametrize(
    ("highest", "top"), [(0, 2), (1, 2), (2, 2), (3, 4), (5, 10), (11, 20), (41, 100)]
)
def test_value_axis_top_is_a_round_even_number_above_the_highest_day(highest, top):
    assert _nice_top(highest) == top


def test_dashboard_charts_carry_axes_dates_and_units(client, rita, make_scan):
    make_scan(rita)
    client.force_login(rita)
    html = client.get(reverse("dashboard"), {"days": "365"}).content.decode()

    assert html.count('class="axis"') == 1  # the agreement chart needs reviews
    assert "Scans uploaded each day (number of scans)" in html
    today = timezone.localdate()
    assert f">{today.day} {today:%b}</text>" in html  # the last date on the time axis
    assert 'preserveAspectRatio="none"' not in html  # text is never stretched
