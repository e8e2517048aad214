"""How the API knows who is calling: an API key (`Token` or `Bearer`), or a console session.

`request.auth` is then a `Caller`: the user, the account they act in and their role.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from smarter.apps.account import selectors, services
from smarter.apps.account.caller import Caller
from smarter.lib.errors import NotAuthenticated
from smarter.lib.observability import bind_account

# Longer headers are refused before any parsing or lookup: keys are ~60 characters.
MAX_AUTHORIZATION_LENGTH = 256
KEYWORDS = ("token", "bearer")


def api_key_in(header: str) -> str | None:
    """The API key an `Authorization` header carries; None when it carries none at all.

    Raises NotAuthenticated for a header that tries to be a key and is not shaped like one.
    """
    if not header:
        return None
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        raise NotAuthenticated("The Authorization header is too long to be an API key.")
    keyword, _, key = header.partition(" ")
    if keyword.lower() not in KEYWORDS:
        return None
    key = key.strip()
    if not key or " " in key:
        raise NotAuthenticated("Send the key as 'Authorization: Token <key>'.")
    return key


def accepted(caller: Caller | None) -> Caller:
    """A caller found for a presented key, once accepted: its use recorded, its account bound to
    the request's log lines. None (no caller for that key) raises NotAuthenticated."""
    if caller is None:
        raise NotAuthenticated("The API key is invalid, expired or revoked.")
    assert caller.api_key is not None
    services.api_key_touch(api_key=caller.api_key)
    bind_account(caller.account.account_number)
    return caller


def caller_from_authorization(header: str) -> Caller | None:
    """The caller an `Authorization` header names; None when it names no API key at all.

    Raises NotAuthenticated for a header that tries to be a key and is not a valid one.
    """
    key = api_key_in(header)
    return accepted(selectors.caller_for_api_key(key)) if key is not None else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Caller] | None:
        try:
            caller = caller_from_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        except NotAuthenticated as error:
            raise exceptions.AuthenticationFailed(error.description) from None
        return (caller.user, caller) if caller is not None else None

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


SESSION_ACCOUNT_KEY = "smarter_account_id"


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
