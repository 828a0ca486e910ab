"""Pages that follow scans while they are read: the batch page of one upload, and the
rows that the history, worklist and batch pages poll (static/scans/live.js)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from scans.models import Scan, UploadBatch
from scans.selectors.scans import scans_visible_to, upload_batch_get_for_user

# What a live table may ask for (templates/scans/_cell.html), and how many rows at once:
# a page shows at most 50 (an upload's limit), the history and worklist 20.
LIVE_CELLS = ("status", "reading", "confidence", "review")
MAX_LIVE_ROWS = 100


@require_GET
@login_required
def upload_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Every file of one upload: the accepted ones updating to their reading, the refused
    ones with their reason."""
    try:
        batch = upload_batch_get_for_user(user=request.user, batch_id=batch_id)
    except UploadBatch.DoesNotExist:
        raise Http404(_("No such upload.")) from None
    ids = [entry["scan"] for entry in batch.files if entry.get("scan")]
    scans = scans_visible_to(user=request.user).in_bulk(ids)
    rows = [{**entry, "object": scans.get(entry.get("scan"))} for entry in batch.files]
    accepted = [row for row in rows if row.get("scan")]
    context = {
        "batch": batch,
        "rows": rows,
        "accepted": len(accepted),
        "refused": len(rows) - len(accepted),
        "summary": _progress([row["object"] for row in accepted if row["object"]]),
    }
    return render(request, "scans/batch.html", context)


@require_GET
@login_required
def scan_rows(request: HttpRequest) -> JsonResponse:
    """The named cells of the listed scans that the user may see, rendered as the tables
    render them, and a sentence on how many are read. ``?ids=3,5,8&cells=status,reading``;
    scans the user may not see are left out, exactly as scans that do not exist."""
    ids = _ids(request.GET.get("ids", ""))
    cells = [name for name in request.GET.get("cells", "").split(",") if name in LIVE_CELLS]
    scans = scans_visible_to(user=request.user).filter(pk__in=ids)
    if "review" in cells:
        scans = scans.annotate(reviewed=Count("reviews"))
    scans = list(scans)
    return JsonResponse(
        {
            "scans": [
                {
                    "id": scan.pk,
                    "status": scan.status,
                    "pending": scan.is_pending,
                    "cells": {
                        name: render_to_string("scans/_cell.html", {"scan": scan, "cell": name})
                        for name in cells
                    },
                }
                for scan in scans
            ],
            "pending": sum(scan.is_pending for scan in scans),
            "summary": _progress(scans),
        }
    )


def _ids(text: str) -> list[int]:
    ids = [int(part) for part in text.split(",") if part.strip().isdigit()]
    return ids[:MAX_LIVE_ROWS]


def _progress(scans: list[Scan]) -> str:
    """How far the scans of a list are read, for its live region."""
    waiting = sum(scan.is_pending for scan in scans)
    failed = sum(scan.status == Scan.Status.FAILED for scan in scans)
    done = len(scans) - waiting - failed
    if waiting:
        text = _("%(done)d of %(total)d scans read, %(waiting)d waiting.")
    else:
        text = ngettext("The scan is read.", "All %(total)d scans are read.", len(scans))
        if failed:
            text = _("%(done)d of %(total)d scans read.")
    if failed:
        text += " " + ngettext(
            "%(failed)d could not be read.", "%(failed)d could not be read.", failed
        )
    return text % {"done": done, "total": len(scans), "waiting": waiting, "failed": failed}
