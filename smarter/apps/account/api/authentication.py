"""How the API knows who is calling: an API key (`Token` or `Bearer`), or a console session.

`request.auth` is then a `Caller`: the user, the account they act in and their role.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from smarter.apps.account import selectors
from smarter.apps.account.caller import Caller
from smarter.apps.account.credentials import SESSION_ACCOUNT_KEY, caller_from_authorization
from smarter.lib.errors import NotAuthenticated
from smarter.lib.observability import bind_account


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Caller] | None:
        try:
            caller = caller_from_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        except NotAuthenticated as error:
            raise exceptions.AuthenticationFailed(error.description) from None
        return (caller.user, caller) if caller is not None else None

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The dashboard's logged-in user, acting in the account chosen in the console."""

    def authenticate(self, request: Request) -> tuple[Any, Caller] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        caller = selectors.caller_for_user(user, request.session.get(SESSION_ACCOUNT_KEY))
        if caller is None:
            raise exceptions.PermissionDenied("Your user is not a member of any active account.")
        bind_account(caller.account.account_number)
        return user, caller
