"""The three roles, as Django groups: what each may do."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

CLINICIAN, REVIEWER, ADMIN = "clinician", "reviewer", "admin"

ROLES: dict[str, list[str] | None] = {
    # Upload and see their own scans (views limit everybody else to their own).
    CLINICIAN: ["scans.add_scan", "scans.delete_scan"],
    # See and review every scan, the worklist and the dashboard; no user admin.
    REVIEWER: [
        "scans.add_scan",
        "scans.review_scan",
        "scans.view_dashboard",
        "scans.view_scan",
        "scans.change_scan",
        "scans.view_prediction",
        "scans.add_review",
        "scans.view_review",
        "scans.view_modelversion",
    ],
    # Everything: every permission of every app, users and the audit trail included.
    ADMIN: None,
}


def role_group(role: str, *, group_model=Group, permission_model=Permission):
    """The role's group with exactly the role's permissions (created if missing).

    The data migration passes its historical models.
    """
    group, _ = group_model.objects.get_or_create(name=role)
    names = ROLES[role]
    if names is None:
        group.permissions.set(permission_model.objects.all())
        return group
    permissions = []
    for name in names:
        app_label, codename = name.split(".")
        permissions.append(
            permission_model.objects.get(content_type__app_label=app_label, codename=codename)
        )
    group.permissions.set(permissions)
    return group
