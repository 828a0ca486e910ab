from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.urls import reverse
from factories import upload_file

pytestmark = pytest.mark.django_db

STRONG = "a long Pass phrase 9"


def test_migrations_create_the_three_roles():
    groups = {g.name: g for g in Group.objects.prefetch_related("permissions")}
    assert set(groups) >= {"clinician", "reviewer", "admin"}
    reviewer = {p.codename for p in groups["reviewer"].permissions.all()}
    assert {"review_scan", "view_dashboard", "add_review"} <= reviewer
    assert not {"add_user", "change_user", "view_auditevent"} & reviewer
    clinician = {p.codename for p in groups["clinician"].permissions.all()}
    assert clinician == {"add_scan", "delete_scan"}


@pytest.mark.parametrize(
    ("role", "staff", "superuser"),
    [("clinician", False, False), ("reviewer", True, False), ("admin", True, True)],
)
def test_add_user_creates_a_user_in_the_role(monkeypatch, role, staff, superuser):
    monkeypatch.setattr("sys.stdin", io.StringIO(STRONG + "\n"))
    out = io.StringIO()
    call_command("add_user", "dora", "--role", role, "--password-stdin", stdout=out)

    user = User.objects.get(username="dora")
    assert out.getvalue() == f"Created {role} dora.\n"
    assert (user.is_staff, user.is_superuser) == (staff, superuser)
    assert list(user.groups.values_list("name", flat=True)) == [role]
    assert user.check_password(STRONG)


def test_add_user_prompts_twice_without_password_stdin(monkeypatch):
    answers = iter([STRONG, STRONG])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    call_command("add_user", "eve", "--role", "clinician", stdout=io.StringIO())
    assert User.objects.get(username="eve").check_password(STRONG)


def test_add_user_refuses_mismatched_weak_or_duplicate(monkeypatch, alice):
    answers = iter([STRONG, "different"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="do not match"):
        call_command("add_user", "eve", "--role", "clinician")
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="too short"):
        call_command("add_user", "eve", "--role", "clinician", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO(STRONG + "\n"))
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_user", "alice", "--role", "clinician", "--password-stdin")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("add_user", "eve", "--role", "janitor", "--password-stdin")


@pytest.mark.parametrize(
    ("url", "clinician", "reviewer", "admin"),
    [
        (reverse("worklist"), 403, 200, 200),
        (reverse("dashboard"), 403, 200, 200),
        (reverse("admin:index"), 302, 200, 200),
        (reverse("admin:scans_scan_changelist"), 302, 200, 200),
        (reverse("admin:auth_user_changelist"), 302, 403, 200),
        (reverse("admin:scans_auditevent_changelist"), 302, 403, 200),
        (reverse("upload"), 200, 200, 200),
    ],
)
def test_each_role_reaches_what_it_may(client, alice, rita, adam, url, clinician, reviewer, admin):
    for user, expected in ((alice, clinician), (rita, reviewer), (adam, admin)):
        client.force_login(user)
        assert client.get(url).status_code == expected, (user.username, url)


def test_user_without_a_role_cannot_upload(client, django_user_model, password, png_bytes):
    nobody = django_user_model.objects.create_user("nobody", password=password)
    client.force_login(nobody)
    response = client.post(reverse("upload"), {"files": [upload_file("a.png", png_bytes)]})
    assert response.status_code == 403
