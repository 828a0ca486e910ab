from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from factories import upload_file

from scans.models import Scan

pytestmark = pytest.mark.django_db


def test_upload_without_csrf_token_is_refused(alice, png_bytes):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})
    assert response.status_code == 403
    assert not Scan.objects.exists()


def test_delete_without_csrf_token_is_refused(alice, make_scan):
    scan = make_scan(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("scan_delete", args=[scan.pk])).status_code == 403
    assert Scan.objects.filter(pk=scan.pk).exists()


def test_every_form_carries_a_csrf_token(client, alice, make_scan):
    scan = make_scan(alice, status=Scan.Status.FAILED)
    client.force_login(alice)
    for url in [
        reverse("upload"),
        reverse("scan_detail", args=[scan.pk]),
        reverse("scan_delete", args=[scan.pk]),
        reverse("password_change"),
    ]:
        html = client.get(url).content.decode()
        assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"'), url


def test_static_files_are_served_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    response = Client().get("/static/scans/kidneyweb.css")  # a new client loads WhiteNoise anew
    assert response.status_code == 200
    assert b".diagnosis-card" in b"".join(response.streaming_content)
