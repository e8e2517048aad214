"""Signing in and out, resetting a password, and choosing the account to act in."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from smarter.apps.account.selectors import caller_for_user
from smarter.apps.api.authentication import SESSION_ACCOUNT_KEY
from smarter.apps.dashboard.access import console_page, not_found

login = auth_views.LoginView.as_view(template_name="dashboard/auth/login.html", redirect_authenticated_user=True)
logout = auth_views.LogoutView.as_view(next_page="dashboard:login")
password_reset = auth_views.PasswordResetView.as_view(
    template_name="dashboard/auth/password_reset.html",
    email_template_name="dashboard/auth/password_reset_email.txt",
    subject_template_name="dashboard/auth/password_reset_subject.txt",
    success_url=reverse_lazy("dashboard:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="dashboard/auth/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="dashboard/auth/password_reset_confirm.html",
    success_url=reverse_lazy("dashboard:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="dashboard/auth/password_reset_complete.html"
)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:chatbots" if request.user.is_authenticated else "dashboard:login")


@require_POST
@console_page()
def switch_account(request: HttpRequest) -> HttpResponse:
    """Act in another of the user's accounts; the REST API's session authentication follows."""
    try:
        account_id = int(request.POST.get("account", ""))
    except ValueError:
        return not_found(request)
    if caller_for_user(request.user, account_id) is None:  # type: ignore[arg-type]
        return not_found(request)
    request.session[SESSION_ACCOUNT_KEY] = account_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}) or not target.startswith("/dashboard/"):
        return redirect("dashboard:chatbots")
    return redirect(target)
