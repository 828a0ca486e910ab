from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from scans.selectors import active_model_version


@login_required
def home(request: HttpRequest) -> HttpResponse:
    model = active_model_version(models_dir=settings.MODELS_DIR)
    return render(request, "scans/home.html", {"model": model})
