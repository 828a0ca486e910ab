"""The admin is a door into the same house: its deletes and edits go through the
services, so they are audited and leave no file behind, whichever door was used."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from factories import stored_files

from scans.models import AuditEvent, Review, Scan
from scans.services.reviews import review_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed_scan(alice, rita, make_scan, png_bytes):
    """A read, reviewed scan with a heatmap: image, thumbnail and heatmap on disk."""
    scan = make_scan(alice, label="Stone", note="study-7")
    scan.prediction.heatmap.save("heatmap.png", ContentFile(png_bytes))
    review_create(scan=scan, reviewer=rita, verdict="confirmed")
    return scan


def deletes(action=AuditEvent.Action.DELETE) -> list[str]:
    return list(AuditEvent.objects.filter(action=action).values_list("object_id", flat=True))


def inline_management(client, url: str) -> dict:
    """The inline formsets' management and hidden fields of an admin change form."""
    data = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        form = inline.formset.management_form
        data.update({form.add_prefix(name): value for name, value in form.initial.items()})
        for row in inline.formset.forms:
            data.update({field.html_name: field.value() for field in row.hidden_fields()})
    return data


def test_admin_deletes_a_reviewed_scan_with_its_reviews_files_and_an_audit_event(
    client, adam, reviewed_scan, media_root, django_capture_on_commit_callbacks
):
    assert len(stored_files(media_root)) == 3
    client.force_login(adam)
    url = reverse("admin:scans_scan_delete", args=[reviewed_scan.pk])
    assert "Cannot delete" not in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Scan.objects.exists() and not Review.objects.exists()
    assert deletes() == [str(reviewed_scan.pk)]
    assert stored_files(media_root) == []


def test_bulk_delete_action_goes_through_the_service(
    client, adam, alice, make_scan, reviewed_scan, media_root, django_capture_on_commit_callbacks
):
    other = make_scan(alice, name="other.png")
    client.force_login(adam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:scans_scan_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [reviewed_scan.pk, other.pk],
                "post": "yes",
            },
        )

    assert response.status_code == 302
    assert not Scan.objects.exists()
    assert sorted(deletes()) == sorted([str(reviewed_scan.pk), str(other.pk)])
    assert stored_files(media_root) == []


def test_deleting_a_user_deletes_their_scans_through_the_service(
    client, adam, alice, reviewed_scan, media_root, django_capture_on_commit_callbacks
):
    client.force_login(adam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:auth_user_delete", args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Scan.objects.exists()
    assert deletes() == [str(reviewed_scan.pk)]
    assert deletes(AuditEvent.Action.DELETE_USER) == [str(alice.pk)]
    assert stored_files(media_root) == []


def test_reviewer_cannot_edit_a_scans_note_or_owner(client, rita, bob, reviewed_scan):
    client.force_login(rita)
    url = reverse("admin:scans_scan_change", args=[reviewed_scan.pk])
    data = {**inline_management(client, url), "note": "rewritten by a reviewer", "owner": bob.pk}
    client.post(url, data)

    reviewed_scan.refresh_from_db()
    assert reviewed_scan.note == "study-7"
    assert reviewed_scan.owner.username == "alice"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE).exists()
    assert 'name="note"' not in client.get(url).content.decode()


def test_admin_edit_of_a_note_is_audited_with_old_and_new_text(client, adam, reviewed_scan):
    client.force_login(adam)
    url = reverse("admin:scans_scan_change", args=[reviewed_scan.pk])
    response = client.post(url, {**inline_management(client, url), "note": "study-8"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    reviewed_scan.refresh_from_db()
    assert reviewed_scan.note == "study-8"
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE)
    assert event.actor == adam and event.object_id == str(reviewed_scan.pk)
    assert event.detail == {"field": "note", "old": "study-7", "new": "study-8"}


def test_admin_edit_of_a_user_is_audited(client, adam, alice):
    client.force_login(adam)
    url = reverse("admin:auth_user_change", args=[alice.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "first_name": "Alice",
            "groups": [g.pk for g in alice.groups.all()],
            "user_permissions": [],
        }
    )
    data["last_login_0"] = data["last_login_1"] = ""
    data["date_joined_0"], data["date_joined_1"] = (
        alice.date_joined.strftime("%Y-%m-%d"),
        alice.date_joined.strftime("%H:%M:%S"),
    )
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE)
    assert event.object_type == "user" and event.object_id == str(alice.pk)
    assert "first_name" in str(event.detail["changed"]) or "First name" in str(event.detail)


def test_changing_a_roles_permissions_in_the_admin_is_audited(client, adam, rita):
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.get(name="reviewer")
    client.force_login(adam)
    keep = list(group.permissions.values_list("pk", flat=True))
    extra = Permission.objects.get(codename="delete_scan").pk
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "reviewer", "permissions": [*keep, extra]},
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE, object_type="group")
    assert event.actor == adam and "permissions" in str(event.detail["changed"]).lower()
