from __future__ import annotations

import pytest
from django.urls import reverse
from factories import NEW, OLD, upload_file

from scans.models import AuditEvent
from scans.services.model_versions import model_version_activate
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def test_log_in_failed_log_in_and_log_out_are_recorded(client, alice, password):
    client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    client.post(reverse("login"), {"username": "alice", "password": password})
    client.post(reverse("logout"))

    assert actions() == ["login_failed", "login", "logout"]
    failed = AuditEvent.objects.get(action="login_failed")
    assert failed.actor is None
    assert failed.actor_name == "alice"
    assert failed.ip == "127.0.0.1"


def test_upload_view_image_and_delete_are_recorded(
    client, alice, png_bytes, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})
    scan_id = AuditEvent.objects.get(action="upload").object_id
    client.get(reverse("scan_detail", args=[scan_id]))
    client.get(reverse("scan_image", args=[scan_id]))
    client.get(reverse("scan_thumbnail", args=[scan_id]))  # thumbnails are not audited
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("scan_delete", args=[scan_id]))

    assert actions() == ["login", "upload", "view_result", "view_image", "delete"]
    events = AuditEvent.objects.exclude(action="login")
    assert {(e.actor_name, e.object_type, e.object_id) for e in events} == {
        ("alice", "scan", scan_id)
    }
    assert AuditEvent.objects.get(action="delete").detail == {"name": "a.png", "owner": "alice"}


def test_review_and_model_activation_are_recorded(alice, rita, make_scan, two_versions):
    scan = make_scan(alice)
    review_create(scan=scan, reviewer=rita, verdict="Tumor")
    model_version_activate(version_id=NEW, actor=rita)

    review, activation = AuditEvent.objects.order_by("pk")
    assert (review.action, review.detail) == ("review", {"verdict": "Tumor"})
    assert activation.action == "activate_model"
    assert activation.object_id == NEW
    assert activation.detail["previous"] == OLD


def test_events_can_be_neither_changed_nor_deleted(alice):
    event = AuditEvent.objects.create(action="login", actor=alice, actor_name="alice")
    event.action = "logout"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get().action == "login"


def test_admins_read_the_trail_but_nobody_edits_it_in_the_admin(client, alice, adam):
    event = AuditEvent.objects.create(action="login", actor=alice, actor_name="alice")
    client.force_login(adam)
    listing = client.get(reverse("admin:scans_auditevent_changelist") + "?action=login")
    assert listing.status_code == 200
    assert b"alice" in listing.content
    change_url = reverse("admin:scans_auditevent_change", args=[event.pk])
    assert b'type="submit"' not in client.get(change_url).content.split(b"<form")[-1]
    assert client.post(change_url, {"action": "logout"}).status_code == 403
    delete_url = reverse("admin:scans_auditevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:scans_auditevent_add")).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action="login").exists()
