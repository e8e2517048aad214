"""Reads of the chatbot app; every one takes the account and scopes by it."""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import QuerySet

from smarter.apps.account.models import Account, Secret
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


def provider_of_turn(*, account: Account, name: str, chatbot: Chatbot | None = None) -> Provider | None:
    """`provider_get` for a turn on an account's own provider, with its key's Secret: as
    `door_lookup` read it with `chatbot` when it did, else in one statement written once, since
    compiling the ORM query cost more than the turn's other reads."""
    read = getattr(chatbot, "_provider", None)
    if read is not None and read[0] == name:
        return read[1]
    with connection.cursor() as cursor:
        cursor.execute(_provider_sql(), {"account_id": account.pk, "name": name})
        found = prepared.NamedRows(cursor)
    if not found.rows:
        return None
    row = found.rows[0]
    provider = found.hydrate_named(Provider, row, "p")
    provider.account = account
    if found.value(row, "s.id") is not None:
        provider.api_key = found.hydrate_named(Secret, row, "s")
    return provider


@functools.cache
def _provider_sql() -> str:
    return f"""
        SELECT {prepared.named_columns(Provider, "p")}, {prepared.named_columns(Secret, "s")}
          FROM chatbot_provider p
          LEFT JOIN account_secret s ON s.id = p.api_key_id
         WHERE p.account_id = %(account_id)s AND p.name = %(name)s
    """  # noqa: S608  (identifiers only; values are bound parameters)
