"""Reads of the chatbot app; every one takes the account and scopes by it."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.caller import Caller
from smarter.apps.account.features.selectors import feature_on_params, feature_on_sql
from smarter.apps.account.models import Account
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, ChatbotPlugin, Provider
from smarter.apps.plugin.models import Plugin
from smarter.lib import crypto, prepared


def chatbots_of(account: Account) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(account=account).select_related("account", "api_key")


def chatbot_get(*, account: Account, name: str) -> Chatbot | None:
    return chatbots_of(account).filter(name=name).first()


@dataclass(frozen=True)
class DoorLookup:
    """What a chat door needs before a turn: the caller, whether the feature is on for their
    account, and their chatbot with its plugins (None: the account has no chatbot of that name)."""

    caller: Caller
    feature_on: bool
    chatbot: Chatbot | None


def door_lookup(*, api_key: str, chatbot_name: str, feature: str | None) -> DoorLookup | None:
    """The API key's caller, the feature's switches and the named chatbot of the key's account
    with its attached plugins, in one statement: a chat door asks for all of them on every turn,
    and each statement costs more than the rows it reads. None when the key names no caller
    (unknown, revoked, expired, or its user, account or membership is gone).

    The chatbot is looked up in the key's own account only, so another tenant's chatbot of the
    same name is not found."""
    prefix = crypto.api_key_prefix(api_key)
    if prefix is None:
        return None
    params = [*(feature_on_params(feature) if feature is not None else []), chatbot_name, prefix]
    with connection.cursor() as cursor:
        cursor.execute(_door_lookup_sql(feature is not None), params)
        rows = cursor.fetchall()
    if not rows:
        return None
    first = rows[0]
    caller = account_selectors.caller_from_key_row(api_key, first)
    if caller is None:
        return None
    offset = account_selectors.key_lookup_width()
    feature_on = True
    if feature is not None:
        feature_on = bool(first[offset])
        offset += 1
    chatbot_width = prepared.width(Chatbot)
    if first[offset] is None:
        return DoorLookup(caller, feature_on, None)
    chatbot = prepared.hydrate(Chatbot, first[offset : offset + chatbot_width])
    chatbot.account = caller.account
    offset += chatbot_width
    plugins = [prepared.hydrate(Plugin, row[offset:]) for row in rows if row[offset] is not None]
    for plugin in plugins:
        if plugin.account_id == caller.account.pk:
            plugin.account = caller.account
    chatbot._attached_plugins = plugins  # type: ignore[attr-defined]  # read by attached_plugins
    return DoorLookup(caller, feature_on, chatbot)


@functools.cache
def _door_lookup_sql(with_feature: bool) -> str:
    quote = prepared.quote
    link = ChatbotPlugin._meta
    chatbot = Chatbot._meta

    def link_column(name: str) -> str:
        return quote(link.get_field(name).column or name)  # type: ignore[union-attr]

    selected = [account_selectors.key_lookup_columns()]
    joins = [account_selectors.key_lookup_from()]
    if with_feature:
        selected.append(feature_on_sql(f"a.{quote('id')}"))
    selected += [prepared.columns(Chatbot, "c"), prepared.columns(Plugin, "p")]
    # One row per attached plugin (one with NULL plugin columns when there is none), in the
    # manifest's order; the key, caller and chatbot columns repeat on each.
    joins.append(
        f"LEFT JOIN {quote(chatbot.db_table)} c "
        f"ON c.{quote(chatbot.get_field('account').column)} = k.{quote('account_id')} "
        f"AND c.{quote('name')} = %s "
        f"LEFT JOIN {quote(link.db_table)} cp ON cp.{link_column('chatbot')} = c.{quote('id')} "
        f"LEFT JOIN {quote(Plugin._meta.db_table)} p ON p.{quote('id')} = cp.{link_column('plugin')}"
    )
    return (
        f"SELECT {', '.join(selected)} {' '.join(joins)} "
        f"WHERE {account_selectors.key_lookup_condition()} "
        f"ORDER BY cp.{link_column('position')}, cp.{quote('id')}"
    )


def domain_of(chatbot: Chatbot) -> ChatbotDomain | None:
    """The chatbot's custom domain claim (at most one)."""
    return ChatbotDomain.objects.filter(chatbot=chatbot).select_related("chatbot").first()


def attached_plugins(chatbot: Chatbot) -> list[Plugin]:
    """The chatbot's plugins in their manifest order (one prepared statement: every turn asks),
    or those `door_lookup` read with the chatbot."""
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
