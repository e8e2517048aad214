"""Who may do what in the account: API keys, members and roles, secrets, and the journal.

Members read; admins change (the decorators answer 403 to a member's POST). Every write is a
call to an account service.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from smarter.apps.account import selectors, services
from smarter.apps.account.models import Membership, Role
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.journal import Journaled
from smarter.lib.errors import NotFound, SmarterError, ValidationFailed


# --- API keys ---------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_page(admin_posts=True, journal=Journaled("create", "ApiKey"))
def api_key_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    issued, error, status = None, "", 200
    form = {"name": "", "description": ""}
    if request.method == "POST":
        form = {"name": request.POST.get("name", "").strip(), "description": request.POST.get("description", "")}
        try:
            issued = services.api_key_create(
                account=caller.account, user=caller.user, name=form["name"], description=form["description"]
            )
        except SmarterError as problem:
            error, status = problem.description, problem.status
        else:
            form = {"name": "", "description": ""}
    keys = selectors.api_keys_visible_to(caller).order_by("revoked_at", "name")
    context = {"keys": keys, "issued": issued, "error": error, "form": form}
    return page(request, "dashboard/keys.html", context, status=status)


@require_POST
@console_page(admin=True, journal=Journaled("revoke", "ApiKey"))
def api_key_revoke(request: HttpRequest, name: str) -> HttpResponse:
    key = selectors.api_key_get(account=caller_of(request).account, name=name)
    if key is None:
        raise NotFound(f"API key {name!r} was not found.")
    services.api_key_revoke(api_key=key)
    return redirect("dashboard:api_keys")


# --- members ----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_page(admin_posts=True, journal=Journaled("create", "User"))
def member_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    error, status = "", 200
    form = {"username": "", "email": "", "role": Role.MEMBER}
    if request.method == "POST":
        form = {key: request.POST.get(key, "").strip() for key in ("username", "email", "role")}
        role = form["role"] if form["role"] in Role.values else Role.MEMBER
        try:
            services.member_add(
                account=caller.account,
                username=form["username"],
                email=form["email"],
                role=role,
                password=request.POST.get("password") or None,
            )
        except SmarterError as problem:
            error, status = problem.description, problem.status
        else:
            return redirect("dashboard:members")
    context = {"members": selectors.memberships_of(caller.account), "roles": Role.choices, "error": error, "form": form}
    return page(request, "dashboard/members.html", context, status=status)


def _membership(request: HttpRequest, username: str) -> Membership:
    membership = selectors.membership_get(account=caller_of(request).account, username=username)
    if membership is None:
        raise NotFound(f"No member {username!r} in this account.")
    return membership


@require_POST
@console_page(admin=True, journal=Journaled("update", "User"))
def member_change(request: HttpRequest, username: str) -> HttpResponse:
    membership = _membership(request, username)
    role = request.POST.get("role", "")
    if role not in Role.values:
        raise NotFound("No such role.")
    try:
        services.member_update(membership=membership, role=role)
    except SmarterError as problem:
        return _members_with_error(request, problem)
    return redirect("dashboard:members")


@require_POST
@console_page(admin=True, journal=Journaled("delete", "User"))
def member_remove(request: HttpRequest, username: str) -> HttpResponse:
    membership = _membership(request, username)
    try:
        services.member_remove(membership=membership)
    except SmarterError as problem:
        return _members_with_error(request, problem)
    return redirect("dashboard:members")


def _members_with_error(request: HttpRequest, problem: SmarterError) -> HttpResponse:
    caller = caller_of(request)
    context = {
        "members": selectors.memberships_of(caller.account),
        "roles": Role.choices,
        "error": problem.description,
        "form": {"username": "", "email": "", "role": Role.MEMBER},
    }
    return page(request, "dashboard/members.html", context, status=problem.status)


# --- secrets ----------------------------------------------------------------------------------
def _date_or_none(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
@console_page(admin_posts=True, journal=Journaled("create", "Secret"))
def secret_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    error, status = "", 200
    form = {"name": "", "description": ""}
    if request.method == "POST":
        form = {"name": request.POST.get("name", "").strip(), "description": request.POST.get("description", "")}
        value = request.POST.get("value", "")
        try:
            if not value:
                raise ValidationFailed("A secret needs a value.")
            services.secret_create(
                account=caller.account,
                name=form["name"],
                value=value,
                description=form["description"],
                expires_at=_date_or_none(request.POST.get("expires_at", "")),
            )
        except SmarterError as problem:
            error, status = problem.description, problem.status
        else:
            return redirect("dashboard:secrets")
    context = {"secrets": selectors.secrets_of(caller.account), "error": error, "form": form}
    return page(request, "dashboard/secrets.html", context, status=status)


@require_POST
@console_page(admin=True, journal=Journaled("update", "Secret"))
def secret_change(request: HttpRequest, name: str) -> HttpResponse:
    """A new value (or description); the stored value is never sent back to the browser."""
    secret = selectors.secret_get(account=caller_of(request).account, name=name)
    if secret is None:
        raise NotFound(f"Secret {name!r} was not found.")
    services.secret_update(
        secret=secret,
        value=request.POST.get("value") or None,
        description=request.POST.get("description", secret.description),
        version=secret.version,
        expires_at=_date_or_none(request.POST.get("expires_at", "")) or secret.expires_at,
    )
    return redirect("dashboard:secrets")


@require_POST
@console_page(admin=True, journal=Journaled("delete", "Secret"))
def secret_delete(request: HttpRequest, name: str) -> HttpResponse:
    caller = caller_of(request)
    secret = selectors.secret_get(account=caller.account, name=name)
    if secret is None:
        raise NotFound(f"Secret {name!r} was not found.")
    try:
        services.secret_delete(secret=secret)
    except SmarterError as problem:
        context = {"secrets": selectors.secrets_of(caller.account), "error": problem.description, "form": {}}
        return page(request, "dashboard/secrets.html", context, status=problem.status)
    return redirect("dashboard:secrets")


# --- journal ----------------------------------------------------------------------------------
JOURNAL_FILTERS = ("command", "kind", "username", "status")


@require_http_methods(["GET"])
@console_page(admin=True)
def journal(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    filters = {key: request.GET.get(key, "").strip() for key in JOURNAL_FILTERS}
    status = int(filters["status"]) if filters["status"].isdigit() else None
    entries = selectors.journal_of(
        caller.account,
        command=filters["command"] or None,
        kind=filters["kind"] or None,
        username=filters["username"] or None,
        status_code=status,
    )
    paginator = Paginator(entries, 50)
    entries_page = paginator.get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in filters.items() if value})
    context = {"entries": entries_page, "filters": filters, "query": query}
    return page(request, "dashboard/journal.html", context)
