"""Reads of the chatbot app; every one takes the account and scopes by it."""

from __future__ import annotations

import functools

from django.db.models import QuerySet

from smarter.apps.account.models import Account
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, ChatbotPlugin, Provider
from smarter.apps.plugin.models import Plugin
from smarter.lib import prepared


def chatbots_of(account: Account) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(account=account).select_related("account", "api_key")


def chatbot_get(*, account: Account, name: str) -> Chatbot | None:
    return chatbots_of(account).filter(name=name).first()


def domain_of(chatbot: Chatbot) -> ChatbotDomain | None:
    """The chatbot's custom domain claim (at most one)."""
    return ChatbotDomain.objects.filter(chatbot=chatbot).select_related("chatbot").first()


def attached_plugins(chatbot: Chatbot) -> list[Plugin]:
    """The chatbot's plugins in their manifest order (one prepared statement: every turn asks),
    or those `door_lookup.door_lookup` read with the chatbot."""
    prefetched = getattr(chatbot, "_attached_plugins", None)
    if prefetched is not None:
        return list(prefetched)
    plugins = prepared.fetch(Plugin, _attached_plugins_sql(), [chatbot.pk])
    account = chatbot.account
    for plugin in plugins:
        if plugin.account_id == account.pk:
            plugin.account = account
    return plugins


@functools.cache
def _attached_plugins_sql() -> str:
    quote = prepared.quote
    link = ChatbotPlugin._meta

    def column(name: str) -> str:
        return quote(link.get_field(name).column or name)  # type: ignore[union-attr]

    return (
        f"SELECT {prepared.columns(Plugin, 'p')} FROM {quote(link.db_table)} a "  # noqa: S608
        f"JOIN {quote(Plugin._meta.db_table)} p ON p.{quote('id')} = a.{column('plugin')} "
        f"WHERE a.{column('chatbot')} = %s ORDER BY a.{column('position')}, a.{column('id')}"
    )


def providers_of(account: Account) -> QuerySet[Provider]:
    return Provider.objects.filter(account=account).select_related("api_key")


def provider_get(*, account: Account, name: str) -> Provider | None:
    return providers_of(account).filter(name=name).first()
