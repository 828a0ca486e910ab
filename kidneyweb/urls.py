from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from scans.account_views import LoginView, LogoutView, PasswordChangeView, language_set

urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        PasswordChangeView.as_view(),  # audited and limited
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # The header's language switcher posts here (kept with the account when logged in).
    path("i18n/setlang/", language_set, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("scans.api.urls")),
    path("", include("scans.urls")),
]

# A page with the site's header, or JSON under /api/ (scans.errors).
handler400 = "scans.errors.bad_request"
handler403 = "scans.errors.permission_denied"
handler404 = "scans.errors.page_not_found"
handler500 = "scans.errors.server_error"
