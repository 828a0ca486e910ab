"""Account pages: sign-up, and Django's own log-out and password change with what they
add (the user's language comes back at log-in; a message after logging out; wrong old
passwords audited and limited); the header's language switcher."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UserCreationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from scans.audit import client_ip
from scans.selectors.accounts import user_language
from scans.services import accounts


class LoginView(auth_views.LoginView):
    """Django's log-in; the language the user chose before comes back with them, in
    whichever browser they log in."""

    def form_valid(self, form):
        response = super().form_valid(form)
        language = user_language(user=form.get_user())
        if language:
            _language_cookie(response, language)
        return response


@require_POST  # a GET would change nothing
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie, then back to the page); for a logged-in user
    the choice is also kept with the account."""
    response = set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        accounts.user_language_set(user=request.user, language=language)
    return response


def _language_cookie(response: HttpResponse, language: str) -> None:
    """The cookie LocaleMiddleware reads, set as set_language sets it."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class LogoutView(auth_views.LogoutView):
    """Django's log-out, then a message on the log-in page it leads to (the session is
    gone by then: the message travels in the messages cookie)."""

    def post(self, request, *args, **kwargs):
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.success(request, _("You have logged out."))
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Self-registration, only when KIDNEYWEB_ALLOW_SIGNUP=1; staff create users otherwise."""
    if not settings.ALLOW_SIGNUP:
        raise Http404(gettext("Sign-up is disabled: ask an administrator for an account."))
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password page, with wrong old passwords audited and limited as log-ins
    are (KIDNEYWEB_LOGIN_FAILURE_LIMIT per KIDNEYWEB_LOGIN_COOLOFF_MINUTES): a stolen
    session must not become unlimited guesses at the password."""

    def post(self, request, *args, **kwargs):
        if accounts.password_change_blocked(user=request.user):
            return _password_change_blocked(request)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password") and accounts.password_change_failed(
            user=self.request.user, ip=client_ip(self.request)
        ):
            return _password_change_blocked(self.request)
        return super().form_invalid(form)

    def form_valid(self, form):
        accounts.password_change_succeeded(user=self.request.user)
        return super().form_valid(form)


def _password_change_blocked(request: HttpRequest) -> HttpResponse:
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff": settings.AXES_COOLOFF_TIME}
    return render(request, "registration/password_change_blocked.html", context, status=429)
