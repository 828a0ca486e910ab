"""Who may open and delete a scan: the rules the pages and the API share.

A scan the user may not see answers 404, as one that does not exist (nothing tells
them apart); one they see but may not delete answers 403. DRF turns Django's Http404
and PermissionDenied into its own 404 and 403, so both doors raise the same.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext

from scans.models import Scan
from scans.selectors.scans import scan_get_for_user


def scan_get_or_404(*, user, scan_id: int) -> Scan:
    """The scan if the user may see it (their own; reviewers and admins: any), else 404."""
    try:
        return scan_get_for_user(user=user, scan_id=scan_id)
    except Scan.DoesNotExist:
        raise Http404(gettext("No such scan.")) from None


def scan_can_delete(*, user, scan: Scan) -> bool:
    """Their own scan, or any with the delete permission (admins): reviewers see every
    scan but delete only their own."""
    return scan.owner_id == user.pk or user.has_perm("scans.delete_scan")


def scan_get_to_delete(*, user, scan_id: int) -> Scan:
    """The scan if the user may delete it; 404 if they may not see it, else 403."""
    scan = scan_get_or_404(user=user, scan_id=scan_id)
    if not scan_can_delete(user=user, scan=scan):
        raise PermissionDenied(gettext("Only the scan's owner or an administrator may delete it."))
    return scan
