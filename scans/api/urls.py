from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from scans.api import views

urlpatterns = [
    path("scans/", views.ScanListView.as_view(), name="api-scan-list"),
    path("scans/<int:scan_id>/", views.ScanDetailView.as_view(), name="api-scan-detail"),
    path("scans/<int:scan_id>/image", views.ScanImageView.as_view(), name="api-scan-image"),
    path("models/", views.ModelVersionListView.as_view(), name="api-model-list"),
    path("health/", views.HealthView.as_view(), name="api-health"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A page for people: log in first, like every other page.
    path(
        "docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]
