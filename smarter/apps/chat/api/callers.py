"""Who calls a chat endpoint of the API: the API key's caller, whether the feature is on for
their account and, with a chatbot to find, their chatbot, read off the event loop."""

from __future__ import annotations

from django.http import HttpRequest

from smarter.apps.account.caller import Caller
from smarter.apps.account.credentials import accepted, api_key_in
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.account.selectors import caller_for_api_key
from smarter.apps.chatbot.door_lookup import door_lookup
from smarter.apps.chatbot.models import Chatbot
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import NotAuthenticated, NotFound, PermissionDenied


def resolve_caller(header: str, chatbot_name: str | None, feature: str | None) -> tuple[Caller, Chatbot | None]:
    """Who is calling, whether the feature is on for their account, and their chatbot (with its
    plugins), from a database thread in one trip: each trip costs more than the queries it runs,
    and with a chatbot to find, one statement (`door_lookup`)."""
    key = api_key_in(header)
    if key is None:
        raise NotAuthenticated("Authenticate with an API key: send 'Authorization: Token <key>'.")
    if chatbot_name is None:
        caller = accepted(caller_for_api_key(key))
        feature_on = feature is None or feature_enabled(account=caller.account, feature=feature)
        chatbot = None
    else:
        found = door_lookup(api_key=key, chatbot_name=chatbot_name, feature=feature)
        caller = accepted(found.caller if found is not None else None)
        assert found is not None
        feature_on, chatbot = found.feature_on, found.chatbot
    if not feature_on:
        raise PermissionDenied(
            f"The feature {feature!r} is switched off for this account; ask the platform operator.",
            context={"feature": feature},
        )
    if chatbot_name is None:
        return caller, None
    if chatbot is None:
        raise NotFound(
            f"Chatbot {chatbot_name!r} was not found in your account.",
            context={"kind": "Chatbot", "name": chatbot_name},
        )
    return caller, chatbot


async def caller_of(authorization: str, *, feature: str | None = None) -> Caller:
    caller, _ = await in_db_thread(resolve_caller, authorization, None, feature)
    return caller


async def require_caller(request: HttpRequest, *, feature: str | None = None) -> Caller:
    return await caller_of(request.headers.get("Authorization", ""), feature=feature)


async def require_caller_and_chatbot(
    request: HttpRequest, name: str, *, feature: str | None = None
) -> tuple[Caller, Chatbot]:
    caller, chatbot = await in_db_thread(resolve_caller, request.headers.get("Authorization", ""), name, feature)
    assert chatbot is not None
    return caller, chatbot
