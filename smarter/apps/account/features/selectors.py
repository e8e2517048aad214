"""The one read of feature switches: is a feature on for an account.

The decision is one SQL expression, `feature_on_sql`: the account's own switch, else the
feature's switch, else on. `feature_enabled` runs it alone; a statement that already reads the
account (the chat doors' lookup) embeds it, so a turn reads its switches without another trip.
Nothing is cached: a switch changed in the admin applies to the next request.
"""

from __future__ import annotations

import functools

from django.db import connection

from smarter.apps.account.models import Account, AccountFeatureSwitch, FeatureSwitch


@functools.cache
def feature_on_sql(account_id: str) -> str:
    """An SQL boolean expression, true when the feature is on for the account whose id is the SQL
    expression `account_id` (e.g. `a.id` in a statement that reads the account as `a`). It takes
    the parameters `feature_on_params(feature)`, in that order, where it stands in the statement."""
    quote = connection.ops.quote_name
    own, every = AccountFeatureSwitch._meta, FeatureSwitch._meta
    active = quote("active")
    # Scalar subqueries on unique keys, so the expression adds no row and needs no join; the
    # aliases are unusual so that they cannot hide an alias of the enclosing statement.
    # Only identifiers from the models' metadata are interpolated; values are bound parameters.
    return (
        f"COALESCE("  # noqa: S608
        f"(SELECT fs_own.{active} FROM {quote(own.db_table)} fs_own "
        f"WHERE fs_own.{quote(own.get_field('switch').column)} = %s "
        f"AND fs_own.{quote(own.get_field('account').column)} = {account_id}), "
        f"(SELECT fs_all.{active} FROM {quote(every.db_table)} fs_all "
        f"WHERE fs_all.{quote(every.get_field('feature').column)} = %s), "
        f"TRUE)"
    )


def feature_on_params(feature: str) -> list[str]:
    """The parameters of `feature_on_sql` for `feature`."""
    return [feature, feature]


@functools.cache
def _feature_enabled_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(Account._meta.db_table)
    return f"SELECT {feature_on_sql('a.' + quote('id'))} FROM {table} a WHERE a.{quote('id')} = %s"  # noqa: S608


def feature_enabled(*, account: Account, feature: str) -> bool:
    """Whether `feature` is on for `account`: one indexed read of both switches."""
    with connection.cursor() as cursor:
        cursor.execute(_feature_enabled_sql(), [*feature_on_params(feature), account.pk])
        row = cursor.fetchone()
    return row is None or bool(row[0])
