from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scans.access import scan_can_delete, scan_get_or_404, scan_get_to_delete
from scans.audit import audit_request, client_ip
from scans.charts import CHART_ROW_HEIGHT, probability_bars
from scans.files import image_content_type, private_file
from scans.forms import (
    HistoryFilterForm,
    UploadForm,
)
from scans.models import AuditEvent, Scan
from scans.selectors.model_versions import (
    active_model_version,
    model_version_card,
    model_version_metadata,
    prediction_caveats,
    reading_caveats,
)
from scans.selectors.scans import scan_counts_for_user, scan_list_for_user
from scans.services import batches, readings, uploads

HISTORY_PAGE_SIZE = 20


@require_GET
@login_required
def model_card(request: HttpRequest) -> HttpResponse:
    """How a model version (the active one unless ?version= names another) reads
    patients it never saw, from its own metadata."""
    version = request.GET.get("version")
    metadata = model_version_metadata(version=version) if version else _active_model()
    if not metadata:
        raise Http404(gettext("No such model version."))
    return render(request, "scans/model_card.html", model_version_card(metadata=metadata))


def _active_model() -> dict | None:
    """The served version's metadata for the pages, or None (none active, or broken)."""
    active = active_model_version()
    return active.metadata if active else None


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The user's history: own scans, newest first, filtered and paged."""
    filters = HistoryFilterForm(request.GET)
    scans = scan_list_for_user(user=request.user, **filters.filters())
    page = Paginator(scans, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "scans/home.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "counts": scan_counts_for_user(user=request.user),
            "model": _active_model(),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("scans.add_scan", raise_exception=True)
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        result = uploads.scans_upload(
            owner=request.user, ip=client_ip(request), **form.cleaned_data
        )
        if len(result.scans) == 1 and not result.rejected:
            return redirect("scan_detail", scan_id=result.scans[0].pk)
        if result.scans:  # several files, or some refused: the batch page lists them all
            batch = batches.upload_batch_record(owner=request.user, result=result)
            return redirect("upload_batch", batch_id=batch.pk)
        status = 503 if result.server_fault else 400
        context = {
            "form": UploadForm(),
            "result": result,
            "model": _active_model(),
            **_upload_limits(),
        }
        return render(request, "scans/upload.html", context, status=status)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "model": _active_model(), **_upload_limits()}
    return render(request, "scans/upload.html", context, status=status)


@require_GET
@login_required
def scan_detail(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    audit_request(request, action=AuditEvent.Action.VIEW_RESULT, obj=scan)
    bars = probability_bars(scan)
    context = {
        "scan": scan,
        "bars": bars,
        "chart_height": len(bars) * CHART_ROW_HEIGHT,
        "heatmaps_enabled": settings.HEATMAPS,
        "can_delete": scan_can_delete(user=request.user, scan=scan),
    }
    if scan.status == Scan.Status.DONE and scan.prediction:
        context["confidence_percent"] = round(100 * scan.prediction.confidence)
        context["caveats"] = prediction_caveats(prediction=scan.prediction)
    return render(request, "scans/detail.html", context)


@require_GET
@login_required
def scan_report(request: HttpRequest, scan_id: int) -> HttpResponse:
    """A printable result: image, heatmap, reading, probabilities, model, verdict."""
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    if scan.status != Scan.Status.DONE or scan.prediction is None:
        raise Http404(gettext("This scan has no result to report yet."))
    audit_request(request, action=AuditEvent.Action.VIEW_RESULT, obj=scan, report=True)
    metadata = model_version_metadata(version=scan.prediction.model_version_id)
    context = {
        "scan": scan,
        "bars": probability_bars(scan),
        "calibration": metadata.get("calibration") or {},
        "held_out": (metadata.get("metrics") or {}).get("validation") or {},
        "crossvalidation": (metadata.get("metrics") or {}).get("crossvalidation") or {},
        "caveats": reading_caveats(prediction=scan.prediction, metadata=metadata),
        "printed_at": timezone.now(),
    }
    return render(request, "scans/report.html", context)


@require_GET
@login_required
def scan_image(request: HttpRequest, scan_id: int) -> FileResponse:
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    audit_request(request, action=AuditEvent.Action.VIEW_IMAGE, obj=scan)
    return private_file(scan.image, image_content_type(scan))


@require_GET
@login_required
def scan_thumbnail(request: HttpRequest, scan_id: int) -> FileResponse:
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    if not scan.thumbnail:
        raise Http404(gettext("No thumbnail."))
    return private_file(scan.thumbnail, "image/png")


@require_GET
@login_required
def scan_heatmap(request: HttpRequest, scan_id: int) -> FileResponse:
    """The Grad-CAM overlay of the scan's current reading."""
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    if scan.prediction is None or not scan.prediction.heatmap:
        raise Http404(gettext("No heatmap for this scan."))
    return private_file(scan.prediction.heatmap, "image/png")


@require_GET
@login_required
def scan_status(request: HttpRequest, scan_id: int) -> JsonResponse:
    """What the result page polls while the scan is queued or processing."""
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    prediction = scan.prediction if scan.status == Scan.Status.DONE else None
    return JsonResponse(
        {
            "id": scan.pk,
            "status": scan.status,
            "status_display": scan.get_status_display(),
            "pending": scan.is_pending,
            "reading_state": prediction.reading_state if prediction else None,
            "label": prediction.finding if prediction else None,
            "confidence": prediction.finding_confidence if prediction else None,
            "uncertain": prediction.uncertain if prediction else None,
            "out_of_distribution": prediction.out_of_distribution if prediction else None,
            "heatmap": bool(prediction and prediction.heatmap),
            "failure_reason": scan.failure_reason or None,
            "url": reverse("scan_detail", args=[scan.pk]),
        }
    )


@require_http_methods(["GET", "POST"])
@login_required
def scan_delete(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = scan_get_to_delete(user=request.user, scan_id=scan_id)
    if request.method == "POST":
        uploads.scan_delete(scan=scan, actor=request.user, ip=client_ip(request))
        messages.success(
            request,
            gettext("Scan %(id)s (%(name)s) was deleted.")
            % {"id": scan_id, "name": scan.original_name},
        )
        return redirect("home")
    return render(request, "scans/confirm_delete.html", {"scan": scan})


@require_POST
@login_required
def scan_retry(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = scan_get_or_404(user=request.user, scan_id=scan_id)
    readings.scan_retry(scan=scan)
    return redirect("scan_detail", scan_id=scan.pk)


def _upload_limits() -> dict:
    return {
        "max_megabytes": f"{settings.MAX_UPLOAD_BYTES / 1024 / 1024:g} MB",
        "max_files": settings.MAX_FILES_PER_UPLOAD,
        "max_bytes": settings.MAX_UPLOAD_BYTES,
    }
