"""The rows a chat door reads before every turn, in one statement: the API key with its account,
user and role, the feature's switches for that account, and the named chatbot of the key's
account with its attached plugins and, when it runs on the account's own Provider, that provider
and its key's Secret.

Separately these are five reads (`caller_for_api_key`, `feature_enabled`, `chatbot_get`,
`attached_plugins`, `provider_of_turn`), and they cost about four times the CPU of this one
(`benchmarks/door_lookup.py`): a turn pays for every statement more than for the rows it reads,
and compiling an ORM query costs more than running this one. So the statement below is written
out once and its rows are read by column name (`<alias>.<column>`), never by position. Its tests
check it against those reads for an owner, a teammate and an outsider.

The chatbot is looked up in the key's own account only, so another tenant's chatbot of the same
name is not found. Nothing is cached: a revoked key, a removed member or a changed chatbot is
seen by the very next turn.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection

from smarter.apps.account.caller import Caller
from smarter.apps.account.features.selectors import feature_on_params, feature_on_sql
from smarter.apps.account.models import Account, ApiKey, Secret
from smarter.apps.account.selectors import caller_of_key
from smarter.apps.chatbot.models import Chatbot, Provider
from smarter.apps.plugin.models import Plugin
from smarter.lib import crypto, prepared


@dataclass(frozen=True)
class DoorLookup:
    """What a chat door needs before a turn: the caller, whether the feature is on for their
    account, and their chatbot with its plugins (None: the account has no chatbot of that name)."""

    caller: Caller
    feature_on: bool
    chatbot: Chatbot | None


# One row per attached plugin (one row with NULL plugin columns when there is none), in the
# manifest's order; the key, caller, feature, chatbot and provider columns repeat on each. Its
# parameters, in the order they stand: the feature column's (`feature_on_column`), the chatbot's
# name, the key's prefix.
_STATEMENT = """
    SELECT {key}, {account}, {user}, m.role AS {role},
           {feature}
           {chatbot}, {provider}, {secret}, {plugin}
      FROM account_apikey k
      JOIN account_account a ON a.id = k.account_id
      JOIN auth_user u ON u.id = k.user_id
      LEFT JOIN account_membership m ON m.account_id = k.account_id AND m.user_id = k.user_id
      LEFT JOIN chatbot_chatbot c ON c.account_id = k.account_id AND c.name = %s
      LEFT JOIN chatbot_provider pr ON pr.account_id = c.account_id AND pr.name = c.provider
      LEFT JOIN account_secret ps ON ps.id = pr.api_key_id
      LEFT JOIN chatbot_chatbotplugin cp ON cp.chatbot_id = c.id
      LEFT JOIN plugin_plugin p ON p.id = cp.plugin_id
     WHERE k.prefix = %s
     ORDER BY cp.position, cp.id
"""


def feature_on_column(feature: str) -> tuple[str, list[str]]:
    """The statement's column `feature.on`, true when `feature` is on for the key's account
    (read as `a`), and its parameters: the account's own switch, else the feature's, else on,
    decided in SQL by the feature switches' selector."""
    quote = connection.ops.quote_name
    return f"{feature_on_sql('a.' + quote('id'))} AS {quote('feature.on')},", feature_on_params(feature)


@functools.cache
def _statement(feature_column: str) -> str:
    return _STATEMENT.format(
        key=prepared.named_columns(ApiKey, "k"),
        account=prepared.named_columns(Account, "a"),
        user=prepared.named_columns(User, "u"),
        role=connection.ops.quote_name("member.role"),
        feature=feature_column,
        chatbot=prepared.named_columns(Chatbot, "c"),
        provider=prepared.named_columns(Provider, "pr"),
        secret=prepared.named_columns(Secret, "ps"),
        plugin=prepared.named_columns(Plugin, "p"),
    )


def door_lookup(*, api_key: str, chatbot_name: str, feature: str | None) -> DoorLookup | None:
    """The API key's caller, `feature`'s state for their account (None: no feature to check) and
    their chatbot named `chatbot_name` with its plugins. None when the key names no caller
    (unknown, revoked, expired, or its user, account or membership is gone)."""
    prefix = crypto.api_key_prefix(api_key)
    if prefix is None:
        return None
    feature_column, params = feature_on_column(feature) if feature is not None else ("", [])
    params = [*params, chatbot_name, prefix]
    with connection.cursor() as cursor:
        cursor.execute(_statement(feature_column), params)
        found = prepared.NamedRows(cursor)
    if not found.rows:
        return None
    first, column = found.rows[0], found.value
    caller = caller_of_key(
        api_key,
        key=found.hydrate_named(ApiKey, first, "k"),
        account=found.hydrate_named(Account, first, "a"),
        user=found.hydrate_named(User, first, "u"),
        role=column(first, "member.role"),
    )
    if caller is None:
        return None
    feature_on = feature is None or bool(column(first, "feature.on"))
    if column(first, "c.id") is None:
        return DoorLookup(caller, feature_on, None)
    chatbot = found.hydrate_named(Chatbot, first, "c")
    chatbot.account = caller.account
    provider = None
    if column(first, "pr.id") is not None:
        provider = found.hydrate_named(Provider, first, "pr")
        provider.account = caller.account
        if column(first, "ps.id") is not None:
            provider.api_key = found.hydrate_named(Secret, first, "ps")
    chatbot._provider = (chatbot.provider, provider)  # type: ignore[attr-defined]  # read by provider_of_turn
    plugins = [found.hydrate_named(Plugin, row, "p") for row in found.rows if column(row, "p.id") is not None]
    for plugin in plugins:
        if plugin.account_id == caller.account.pk:
            plugin.account = caller.account
    chatbot._attached_plugins = plugins  # type: ignore[attr-defined]  # read by selectors.attached_plugins
    return DoorLookup(caller, feature_on, chatbot)
