from __future__ import annotations

from django.urls import path

from scans import account_views, batch_views, review_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("uploads/<int:batch_id>/", batch_views.upload_batch, name="upload_batch"),
    path("scans/rows/", batch_views.scan_rows, name="scan_rows"),
    path("scans/<int:scan_id>/", views.scan_detail, name="scan_detail"),
    path("scans/<int:scan_id>/image/", views.scan_image, name="scan_image"),
    path("scans/<int:scan_id>/thumbnail/", views.scan_thumbnail, name="scan_thumbnail"),
    path("scans/<int:scan_id>/status/", views.scan_status, name="scan_status"),
    path("scans/<int:scan_id>/heatmap/", views.scan_heatmap, name="scan_heatmap"),
    path("scans/<int:scan_id>/report/", views.scan_report, name="scan_report"),
    path("scans/<int:scan_id>/delete/", views.scan_delete, name="scan_delete"),
    path("scans/<int:scan_id>/retry/", views.scan_retry, name="scan_retry"),
    path("accounts/signup/", account_views.signup, name="signup"),
    path("model/", views.model_card, name="model_card"),
]
urlpatterns += [
    path("review/", review_views.worklist, name="worklist"),
    path("review/scans/<int:scan_id>/", review_views.review, name="review"),
    path("dashboard/", review_views.dashboard, name="dashboard"),
]
