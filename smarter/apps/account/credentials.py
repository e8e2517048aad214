"""What a request presents to say who is calling: an API key in its `Authorization` header, or
the account a console session chose. Every door reads them through here."""

from __future__ import annotations

from smarter.apps.account import selectors, services
from smarter.apps.account.caller import Caller
from smarter.lib.errors import NotAuthenticated
from smarter.lib.observability import bind_account

# Longer headers are refused before any parsing or lookup: keys are ~60 characters.
MAX_AUTHORIZATION_LENGTH = 256
KEYWORDS = ("token", "bearer")

# The console session's key for the account its user acts in (the dashboard sets it, the API's
# session authentication and the sandbox read it).
SESSION_ACCOUNT_KEY = "smarter_account_id"


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
