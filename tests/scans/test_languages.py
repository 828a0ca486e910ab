"""The portal in English and Bahasa Indonesia: the browser's Accept-Language picks the
language, the header's switcher overrides it (a cookie), class names stay stored in
English while their labels are translated, and the scripts get their catalogue."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from scans.models import AccountPreference, Prediction
from scans.selectors.accounts import user_language

pytestmark = pytest.mark.django_db


def test_english_is_the_default(client):
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page
    assert "<h1>Log in</h1>" in page


def test_login_page_is_indonesian_when_the_browser_asks_for_it(client):
    page = client.get(reverse("login"), headers={"accept-language": "id,en;q=0.5"})
    text = page.content.decode()
    assert '<html lang="id">' in text
    assert "<h1>Masuk</h1>" in text
    assert "bukan diagnosis" in text  # the footer's disclaimer


def test_switcher_sets_the_language_cookie_and_pages_follow_it(client, alice, make_scan):
    scan = make_scan(alice)
    client.force_login(alice)
    home = reverse("home")

    response = client.post(
        reverse("set_language"), {"language": "id"}, headers={"referer": f"http://testserver{home}"}
    )

    assert response.status_code == 302 and response.url == f"http://testserver{home}"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"
    page = client.get(home, headers={"accept-language": "en"}).content.decode()
    assert "<h1>Pindaian saya</h1>" in page
    assert 'id="language-menu"' in page  # the switcher sits in the (phone) menu
    assert '<option value="id" lang="id" selected>Bahasa Indonesia</option>' in page
    assert client.get(reverse("scan_detail", args=[scan.pk])).status_code == 200


def test_a_logged_in_users_choice_is_kept_with_the_account(client, alice, password):
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "id"})
    client.post(reverse("logout"))

    browser = Client()  # another computer: no language cookie, an English browser
    response = browser.post(
        reverse("login"),
        {"username": alice.username, "password": password},
        headers={"accept-language": "en"},
    )

    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"
    page = browser.get(response.url, headers={"accept-language": "en"}).content.decode()
    assert "<h1>Pindaian saya</h1>" in page
    assert user_language(user=alice) == "id"


def test_without_a_choice_the_browser_decides_after_log_in(client, bob, password):
    response = client.post(
        reverse("login"),
        {"username": bob.username, "password": password},
        headers={"accept-language": "id"},
    )

    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert user_language(user=bob) is None
    page = client.get(reverse("home"), headers={"accept-language": "id"}).content.decode()
    assert "<h1>Pindaian saya</h1>" in page


def test_a_choice_made_logged_out_is_not_kept_and_an_unknown_one_changes_nothing(client, alice):
    client.post(reverse("set_language"), {"language": "id"})
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "xx"})

    assert user_language(user=alice) is None
    assert not AccountPreference.objects.exists()


def test_switcher_refuses_a_get(client):
    assert client.get(reverse("set_language"), {"language": "id"}).status_code == 405


def test_class_label_is_translated_and_the_stored_value_is_not(client, alice, make_scan):
    scan = make_scan(alice, label="Stone", confidence=0.973)
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"

    detail = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()
    history = client.get(reverse("home")).content.decode()

    assert '<p class="diagnosis-label">Batu</p>' in detail
    assert "97,3%" in detail  # decimal comma, one decimal
    assert 'data-width="97.3%"' in detail  # a CSS width keeps its dot
    assert "Endapan mineral keras" in detail  # the plain-language description
    assert "Batu</span>" in history
    assert Prediction.objects.get(scan=scan).label == "Stone"
    assert client.get(reverse("home"), {"diagnosis": "Stone"}).status_code == 200


def test_english_keeps_its_numbers_and_dates(client, alice, make_scan):
    scan = make_scan(alice, label="Stone", confidence=0.973)
    client.force_login(alice)
    detail = client.get(reverse("scan_detail", args=[scan.pk])).content.decode()
    assert '<p class="diagnosis-label">Stone</p>' in detail
    assert "97.3%" in detail
    assert f"{scan.uploaded_at:%Y-%m-%d %H:%M:%S}" in detail


def test_form_labels_and_errors_are_translated(client, alice):
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    page = client.get(
        reverse("home"), {"date_from": "2026-05-02", "date_to": "2026-05-01"}
    ).content.decode()
    assert ">Dari</label>" in page
    assert "Rentang tanggal terbalik" in page


def test_javascript_catalogue_serves_indonesian(client):
    catalogue = client.get(reverse("javascript-catalog"), headers={"accept-language": "id"})
    assert catalogue.status_code == 200
    text = catalogue.content.decode()
    assert "Pratinjau %(name)s" in text
    assert "Akan ditolak: %(reason)s" in text


def test_javascript_catalogue_loads_before_the_scripts_that_use_it(client, alice):
    client.force_login(alice)
    page = client.get(reverse("upload")).content.decode()
    assert page.index(reverse("javascript-catalog")) < page.index("scans/upload.js")


def test_refusal_reasons_of_error_pages_are_translated(client, alice):
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    page = client.get(reverse("scan_detail", args=[999_999]))
    assert page.status_code == 404
    assert "Pindaian tidak ditemukan." in page.content.decode()


def test_api_errors_follow_accept_language(client, alice):
    client.force_login(alice)
    answer = client.get(
        reverse("api-scan-list"), {"page_size": "x"}, headers={"accept-language": "id"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"page_size": ["Harus bilangan bulat positif."]}
