"""Who is using the console, and what they may do: every page goes through `console_page`.

A page needs a logged-in user (anonymous → the login page) who is a member of the account chosen
in the session (the same session key the REST API's session authentication reads). Objects of
another account answer 404 because every read goes through a selector or broker scoped by the
caller's account; admin-only pages and actions answer 403 to members.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from smarter.apps.account.caller import Caller
from smarter.apps.account.credentials import SESSION_ACCOUNT_KEY
from smarter.apps.account.selectors import caller_for_user
from smarter.apps.dashboard.journal import Journaled, changed_name, console_change_record
from smarter.lib.errors import NotFound, PermissionDenied

View = Callable[..., HttpResponse]


class ConsoleRequest(HttpRequest):
    """A console request once `console_page` has let it in: `caller` is always set."""

    caller: Caller


def caller_of(request: HttpRequest) -> Caller:
    """The caller `console_page` resolved for this request."""
    return request.caller  # type: ignore[attr-defined]


def current_caller(request: HttpRequest) -> Caller | None:
    """The caller of a logged-in user in their chosen account (else their first account)."""
    return caller_for_user(request.user, request.session.get(SESSION_ACCOUNT_KEY))  # type: ignore[arg-type]


def console_page(
    *, admin: bool = False, admin_posts: bool = False, journal: Journaled | None = None
) -> Callable[[View], View]:
    """Log-in, account and role checks for one console view.

    `admin`: the whole page is for account admins. `admin_posts`: anyone reads, only admins change.
    `journal`: each POST is a change recorded in the account's journal, refused ones included.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            caller = current_caller(request)
            if caller is None:
                return render(request, "dashboard/no_account.html", status=403)
            request.caller = caller  # type: ignore[attr-defined]
            started = time.perf_counter()
            response = _answer(view, request, caller, admin or (admin_posts and request.method == "POST"), args, kwargs)
            if journal is not None and request.method == "POST":
                command, kind = journal.command_and_kind(kwargs)
                # A view may name what its POST did more precisely (a save that was only previewed: diff).
                command = getattr(request, "journal_command", command)
                console_change_record(
                    request,
                    caller,
                    command=command,
                    kind=kind,
                    name=changed_name(request, kwargs),
                    status_code=response.status_code,
                    started=started,
                )
            return response

        return wrapper

    return decorate


def _answer(
    view: View, request: HttpRequest, caller: Caller, admin_only: bool, args: Any, kwargs: dict[str, Any]
) -> HttpResponse:
    if admin_only and not caller.is_admin:
        return forbidden(request, "Only an account admin may do this.")
    try:
        return view(request, *args, **kwargs)
    except (Http404, NotFound):
        return not_found(request)
    except PermissionDenied as error:
        return forbidden(request, error.description)


def not_found(request: HttpRequest) -> HttpResponse:
    return page(request, "dashboard/error.html", {"status": 404, "title": "Not found"}, status=404)


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return page(
        request, "dashboard/error.html", {"status": 403, "title": "Not allowed", "message": message}, status=403
    )


def page(request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    """Render a console page with what the layout needs: the caller and the accounts to switch to."""
    from smarter.apps.dashboard.selectors import memberships_of_user

    caller = caller_of(request)
    base = {
        "caller": caller,
        "account": caller.account,
        "memberships": memberships_of_user(caller.user),
        "section": template.split("/")[1].split("_")[0].removesuffix(".html"),
    }
    return render(request, template, {**base, **(context or {})}, status=status)
