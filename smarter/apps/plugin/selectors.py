"""Reads of the plugin app. Every selector takes the account and scopes by it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from smarter.apps.account.models import Account
from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection


def plugins_of(account: Account, *, plugin_class: str | None = None) -> QuerySet[Plugin]:
    plugins = Plugin.objects.filter(account=account).select_related(
        "sql_connection", "sql_connection__password", "api_connection", "api_connection__api_key", "knowledge_base"
    )
    return plugins.filter(plugin_class=plugin_class) if plugin_class else plugins


def plugin_get(*, account: Account, name: str, plugin_class: str | None = None) -> Plugin | None:
    return plugins_of(account, plugin_class=plugin_class).filter(name=name).first()


def plugins_named(*, account: Account, names: Iterable[str]) -> list[Plugin]:
    """The account's plugins among `names` (a chatbot's list), by name; unknown names are skipped."""
    return list(plugins_of(account).filter(name__in=list(names)).order_by("name"))


def sql_connections_of(account: Account) -> QuerySet[SqlConnection]:
    return SqlConnection.objects.filter(account=account).select_related("password")


def sql_connection_get(*, account: Account, name: str) -> SqlConnection | None:
    return sql_connections_of(account).filter(name=name).first()


def api_connections_of(account: Account) -> QuerySet[ApiConnection]:
    return ApiConnection.objects.filter(account=account).select_related("api_key")


def api_connection_get(*, account: Account, name: str) -> ApiConnection | None:
    return api_connections_of(account).filter(name=name).first()
