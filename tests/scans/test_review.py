from __future__ import annotations

import pytest
from django.urls import reverse

from scans.models import Review, Scan

pytestmark = pytest.mark.django_db


def test_worklist_puts_unreviewed_and_least_confident_first(client, alice, bob, rita, make_scan):
    sure = make_scan(alice, label="Cyst", confidence=0.99)
    unsure = make_scan(bob, label="Stone", confidence=0.41)
    reviewed = make_scan(alice, label="Tumor", confidence=0.30)
    make_scan(alice, status=Scan.Status.QUEUED)
    client.force_login(rita)
    client.post(reverse("review", args=[reviewed.pk]), {"verdict": "confirmed"})

    page = client.get(reverse("worklist")).context["page"]
    assert [scan.pk for scan in page.object_list] == [unsure.pk, sure.pk, reviewed.pk]


def test_review_page_links_the_scans_around_it_in_worklist_order(
    client, alice, bob, rita, make_scan
):
    sure = make_scan(alice, label="Cyst", confidence=0.99)
    unsure = make_scan(bob, label="Stone", confidence=0.41)
    refused = make_scan(alice, reading_state="not_a_ct", confidence=0.2)
    reviewed = make_scan(alice, label="Tumor", confidence=0.30)
    client.force_login(rita)
    client.post(reverse("review", args=[reviewed.pk]), {"verdict": "confirmed"})
    order = [unsure, sure, refused, reviewed]
    assert [scan.pk for scan in client.get(reverse("worklist")).context["page"]] == [
        scan.pk for scan in order
    ]

    for before, scan, after in zip([None, *order[:-1]], order, [*order[1:], None], strict=True):
        context = client.get(reverse("review", args=[scan.pk])).context
        assert (context["previous"], context["next"]) == (
            before and before.pk,
            after and after.pk,
        ), scan.original_name
    # A filter that leaves the scan out of the worklist: no neighbours to walk to.
    context = client.get(reverse("review", args=[sure.pk]), {"show": "not_a_ct"}).context
    assert (context["previous"], context["next"]) == (None, None)


def test_confirming_records_the_verdict_and_moves_to_the_next_scan(client, alice, rita, make_scan):
    first = make_scan(alice, label="Stone", confidence=0.5)
    second = make_scan(alice, label="Cyst", confidence=0.6)
    client.force_login(rita)
    response = client.post(
        reverse("review", args=[first.pk]), {"verdict": "confirmed", "comment": "clear calculus"}
    )

    review = Review.objects.get()
    assert response.url == reverse("review", args=[second.pk])
    assert (review.reviewer, review.verdict, review.comment) == (
        rita,
        "confirmed",
        "clear calculus",
    )
    assert (review.ai_label, review.true_label, review.agrees) == ("Stone", "Stone", True)
    first.refresh_from_db()
    assert first.review == review


def test_correcting_keeps_the_history_as_new_rows(client, alice, rita, adam, make_scan):
    scan = make_scan(alice, label="Cyst")
    client.force_login(rita)
    client.post(reverse("review", args=[scan.pk]), {"verdict": "confirmed"})
    client.force_login(adam)
    client.post(reverse("review", args=[scan.pk]), {"verdict": "Stone", "comment": "stone"})

    scan.refresh_from_db()
    assert Review.objects.filter(scan=scan).count() == 2
    assert (scan.review.verdict, scan.review.true_label, scan.review.agrees) == (
        "Stone",
        "Stone",
        False,
    )
    html = client.get(reverse("review", args=[scan.pk])).content.decode()
    assert "Corrected to Stone</strong> by adam" in html
    assert "Confirmed</strong> by rita" in html


def test_review_page_offers_shortcuts_for_every_verdict(client, alice, rita, make_scan):
    scan = make_scan(alice, label="Normal")
    client.force_login(rita)
    html = client.get(reverse("review", args=[scan.pk])).content.decode()
    assert 'value="confirmed" data-key="c"' in html
    for key, label in (("1", "Cyst"), ("3", "Stone"), ("4", "Tumor")):
        assert f'value="{label}" class="secondary" data-key="{key}"' in html
    assert 'value="Normal" class="secondary"' not in html  # that is the confirmation
    assert "scans/review" in html and ".js" in html


def test_unknown_verdict_is_refused(client, alice, rita, make_scan):
    scan = make_scan(alice)
    client.force_login(rita)
    response = client.post(reverse("review", args=[scan.pk]), {"verdict": "Banana"})
    assert response.status_code == 400
    assert not Review.objects.exists()


def test_clinician_cannot_review_even_own_scans(client, alice, make_scan):
    scan = make_scan(alice)
    client.force_login(alice)
    assert client.get(reverse("review", args=[scan.pk])).status_code == 403
    assert (
        client.post(reverse("review", args=[scan.pk]), {"verdict": "confirmed"}).status_code == 403
    )
    assert not Review.objects.exists()


def test_scan_without_a_reading_cannot_be_reviewed(client, alice, rita, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(rita)
    assert client.get(reverse("review", args=[scan.pk])).status_code == 404
