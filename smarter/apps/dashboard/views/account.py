"""Signing in and out, resetting a password, and choosing the account to act in."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from smarter.apps.account.billing import limits
from smarter.apps.account.credentials import SESSION_ACCOUNT_KEY
from smarter.apps.account.selectors import caller_for_user
from smarter.apps.dashboard.access import console_page, not_found
from smarter.lib.client_address import client_ip
from smarter.lib.errors import RateLimited


def _refused(view: Any, error: RateLimited, form: Any) -> HttpResponse:
    """The page again with the refusal, 429 and Retry-After; the attempt itself is not made (an
    unbound form: validating it would check the password or send the mail)."""
    response = view.render_to_response(view.get_context_data(form=form, refusal=error.description), status=429)
    for header, value in error.headers.items():
        response[header] = value
    return cast(HttpResponse, response)


class LoginView(auth_views.LoginView):
    """Django's sign-in, with attempts limited per client address and per username."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        try:
            limits.sign_in_admit(client_ip=client_ip(request), identity=username)
        except RateLimited as error:
            return _refused(self, error, self.get_form_class()(request, initial={"username": username}))
        return cast(HttpResponse, super().post(request, *args, **kwargs))


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, with requests limited per client address and per e-mail, and
    links built on the configured platform host and scheme: never on the request's Host header,
    which whoever asks for the mail chooses."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            limits.sign_in_admit(client_ip=client_ip(request), identity=request.POST.get("email", ""))
        except RateLimited as error:
            return _refused(self, error, self.get_form_class()())
        return cast(HttpResponse, super().post(request, *args, **kwargs))

    def form_valid(self, form: Any) -> HttpResponse:
        form.save(
            domain_override=settings.SMARTER.platform_host,
            use_https=bool(settings.SMARTER.https),
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())


login = LoginView.as_view(template_name="dashboard/auth/login.html", redirect_authenticated_user=True)
logout = auth_views.LogoutView.as_view(next_page="dashboard:login")
password_reset = PasswordResetView.as_view(
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
