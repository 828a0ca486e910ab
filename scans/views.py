from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scans import services
from scans.forms import HistoryFilterForm, UploadForm
from scans.models import Diagnosis, Scan
from scans.selectors import (
    active_model_version,
    scan_counts_for_user,
    scan_get_for_user,
    scan_list_for_user,
)

HISTORY_PAGE_SIZE = 20
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
CHART_BAR_WIDTH = 200  # SVG units, as in templates/scans/_probability_chart.html
CHART_ROW_HEIGHT = 28


def _get_scan_for_user(request: HttpRequest, scan_id: int) -> Scan:
    try:
        return scan_get_for_user(user=request.user, scan_id=scan_id)
    except Scan.DoesNotExist:
        raise Http404("No such scan.") from None


def _active_model() -> dict | None:
    return active_model_version(models_dir=settings.MODELS_DIR)


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
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        result = services.scans_upload(
            owner=request.user,
            uploads=form.cleaned_data["files"],
            note=form.cleaned_data["note"],
        )
        if not result.rejected:
            if len(result.scans) == 1:
                return redirect("scan_detail", scan_id=result.scans[0].pk)
            messages.success(request, f"{len(result.scans)} scans uploaded.")
            return redirect("home")
        status = 200 if result.scans else 400
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
    scan = _get_scan_for_user(request, scan_id)
    bars = _probability_bars(scan)
    context = {"scan": scan, "bars": bars, "chart_height": len(bars) * CHART_ROW_HEIGHT}
    if scan.status == Scan.Status.DONE and scan.prediction:
        context["confidence_percent"] = round(100 * scan.prediction.confidence)
    return render(request, "scans/detail.html", context)


@require_GET
@login_required
def scan_image(request: HttpRequest, scan_id: int) -> FileResponse:
    scan = _get_scan_for_user(request, scan_id)
    return _private_file(scan.image, CONTENT_TYPES.get(scan.image_format))


@require_GET
@login_required
def scan_thumbnail(request: HttpRequest, scan_id: int) -> FileResponse:
    scan = _get_scan_for_user(request, scan_id)
    if not scan.thumbnail:
        raise Http404("No thumbnail.")
    return _private_file(scan.thumbnail, "image/png")


@require_GET
@login_required
def scan_status(request: HttpRequest, scan_id: int) -> JsonResponse:
    """What the result page polls while the scan is queued or processing."""
    scan = _get_scan_for_user(request, scan_id)
    prediction = scan.prediction if scan.status == Scan.Status.DONE else None
    response = JsonResponse(
        {
            "id": scan.pk,
            "status": scan.status,
            "status_display": scan.get_status_display(),
            "pending": scan.is_pending,
            "label": prediction.label if prediction else None,
            "confidence": prediction.confidence if prediction else None,
            "failure_reason": scan.failure_reason or None,
            "url": reverse("scan_detail", args=[scan.pk]),
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
def scan_delete(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = _get_scan_for_user(request, scan_id)
    if request.method == "POST":
        services.scan_delete(scan=scan)
        messages.success(request, f"Scan {scan_id} ({scan.original_name}) was deleted.")
        return redirect("home")
    return render(request, "scans/confirm_delete.html", {"scan": scan})


@require_POST
@login_required
def scan_retry(request: HttpRequest, scan_id: int) -> HttpResponse:
    scan = _get_scan_for_user(request, scan_id)
    services.scan_retry(scan=scan)
    return redirect("scan_detail", scan_id=scan.pk)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Self-registration, only when KIDNEYWEB_ALLOW_SIGNUP=1; staff create users otherwise."""
    if not settings.ALLOW_SIGNUP:
        raise Http404("Sign-up is disabled: ask an administrator for an account.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


def _probability_bars(scan: Scan) -> list[dict]:
    """The four classes in model order for the SVG chart, with the winner marked."""
    prediction = scan.prediction if scan.status == Scan.Status.DONE else None
    if prediction is None:
        return []
    bars = []
    for row, label in enumerate(Diagnosis.values):
        probability = float(prediction.probabilities.get(label, 0.0))
        bars.append(
            {
                "label": label,
                "percent": f"{100 * probability:.1f}",
                "width": f"{CHART_BAR_WIDTH * probability:.1f}",
                "y": row * CHART_ROW_HEIGHT,
                "winner": label == prediction.label,
            }
        )
    return bars


def _upload_limits() -> dict:
    return {
        "max_megabytes": f"{settings.MAX_UPLOAD_BYTES / 1024 / 1024:g} MB",
        "max_files": settings.MAX_FILES_PER_UPLOAD,
    }


def _private_file(field, content_type: str | None) -> FileResponse:
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = "inline"
    return response
