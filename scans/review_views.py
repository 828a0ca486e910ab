"""The reviewers' pages: the worklist, one scan's review, the dashboard."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from scans.access import scan_get_or_404
from scans.audit import audit_request, client_ip
from scans.charts import CHART_ROW_HEIGHT, dashboard_charts, probability_bars
from scans.forms import DashboardFilterForm, ReviewForm, WorklistFilterForm
from scans.models import AuditEvent, Diagnosis, ModelVersion, Scan
from scans.selectors.model_versions import prediction_caveats
from scans.selectors.reviews import dashboard_stats, worklist_for_reviewer, worklist_neighbours
from scans.services import reviews

WORKLIST_PAGE_SIZE = 20


@require_GET
@login_required
@permission_required("scans.review_scan", raise_exception=True)
def worklist(request: HttpRequest) -> HttpResponse:
    """Scans to review: unreviewed first, least confident first, refusals apart."""
    filters, scans, query = _worklist(request)
    page = Paginator(scans, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "query": query}
    return render(request, "scans/worklist.html", context)


def _worklist(request: HttpRequest):
    """The worklist's filter form, its scans in review order, and its filters as a
    query string (carried from page to page of reviews)."""
    versions = list(ModelVersion.objects.values_list("id", flat=True))
    filters = WorklistFilterForm(request.GET, versions=versions)
    chosen = filters.filters()
    query = urlencode({name: value for name, value in chosen.items() if value})
    return filters, worklist_for_reviewer(**chosen), query


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("scans.review_scan", raise_exception=True)
def review(request: HttpRequest, scan_id: int) -> HttpResponse:
    """One scan, its AI reading and past reviews; confirm or correct (keys C, 1-4).

    After a verdict the next unreviewed scan of the worklist opens.
    """
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    if scan.status != Scan.Status.DONE or scan.prediction is None:
        raise Http404(gettext("This scan has no AI reading to review."))
    _, worklist, query = _worklist(request)
    previous, following = worklist_neighbours(worklist=worklist, scan_id=scan.pk)
    form = ReviewForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("scans.add_review"):
            raise PermissionDenied
        if form.is_valid():
            try:
                reviews.review_create(
                    scan=scan,
                    reviewer=request.user,
                    verdict=form.cleaned_data["verdict"],
                    comment=form.cleaned_data["comment"],
                    ip=client_ip(request),
                )
            except ValueError as exc:  # "confirmed" on a refused image: no label to confirm
                form.add_error("verdict", str(exc))
            else:
                messages.success(request, gettext("Scan %(id)s reviewed.") % {"id": scan.pk})
                waiting = worklist.filter(review__isnull=True).first()
                target = reverse("review", args=[waiting.pk]) if waiting else reverse("worklist")
                return redirect(f"{target}?{query}" if query else target)
    audit_request(request, action=AuditEvent.Action.VIEW_RESULT, obj=scan)
    context = {
        "scan": scan,
        "form": form,
        "bars": probability_bars(scan),
        "chart_height": 4 * CHART_ROW_HEIGHT,
        "reviews": scan.reviews.select_related("reviewer"),
        "diagnoses": Diagnosis.values,
        "query": query,
        "caveats": prediction_caveats(prediction=scan.prediction),
        "previous": previous,
        "next": following,
    }
    return render(request, "scans/review.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
@permission_required("scans.view_dashboard", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    """How the model performs against the reviewers, and how the platform is used."""
    filters = DashboardFilterForm(
        {"days": "30", **request.GET.dict()},
        versions=list(ModelVersion.objects.values_list("id", flat=True)),
    )
    filters.is_valid()
    days = filters.cleaned_data.get("days") or 30
    since = timezone.localdate() - timedelta(days=days - 1)
    stats = dashboard_stats(
        since=since, model_version=filters.cleaned_data.get("model_version", "")
    )
    context = {"filters": filters, "stats": stats, "since": since, **dashboard_charts(stats, since)}
    return render(request, "scans/dashboard.html", context)
