"""Feature switches per account, kept in django-waffle's switches (edited in the admin).

A feature is on unless switched off: the switch `<feature>:<account number>` decides for one
account (e.g. `openai_compatible_endpoint:1234-5678-9012` off), else the switch `<feature>`
decides for every account, else the feature is on.

Switches are read from the database, not waffle's cache: as cheap as two cache reads, and a
switch edited a moment ago applies to the next request.
"""

from __future__ import annotations

import functools

from django.db import connection
from waffle import get_waffle_switch_model

from smarter.apps.account.models import Account
from smarter.lib import prepared

OPENAI_COMPATIBLE_ENDPOINT = "openai_compatible_endpoint"
CUSTOM_DOMAINS = "custom_domains"
FEATURES = (OPENAI_COMPATIBLE_ENDPOINT, CUSTOM_DOMAINS)


def feature_decision(*, account_switch: bool | None, global_switch: bool | None) -> bool:
    """The account's own switch, else the global one, else on (None: no such switch)."""
    for state in (account_switch, global_switch):
        if state is not None:
            return bool(state)
    return True


def feature_enabled(*, account: Account, feature: str) -> bool:
    """One indexed read of both switches."""
    account_switch = f"{feature}:{account.account_number}"
    states = {
        switch.name: bool(switch.active)
        for switch in prepared.fetch_by(get_waffle_switch_model(), name=(account_switch, feature))
    }
    return feature_decision(account_switch=states.get(account_switch), global_switch=states.get(feature))


@functools.cache
def switch_joins() -> tuple[str, str]:
    """Columns and joins that read a feature's two switches in a statement that already joins the
    account as `a`: `(columns, joins)`. The joins take two parameters, `switch_join_params`;
    the columns are the account's switch, then the global one (NULL where there is none)."""
    quote = connection.ops.quote_name
    table = quote(get_waffle_switch_model()._meta.db_table)
    name, number = quote("name"), f"a.{quote('account_number')}"
    # The account's switch is named `<feature>:<account number>`: concatenated in SQL, so the
    # switch is found in the same statement as the account.
    account_name = f"CONCAT(%s, {number})" if connection.vendor == "mysql" else f"(%s || {number})"
    joins = f"LEFT JOIN {table} sa ON sa.{name} = {account_name} LEFT JOIN {table} sg ON sg.{name} = %s"
    return f"sa.{quote('active')}, sg.{quote('active')}", joins


def switch_join_params(feature: str) -> list[str]:
    return [f"{feature}:", feature]


def switch_state(value: object) -> bool | None:
    """A switch column of `switch_joins` as `feature_decision` takes it."""
    return None if value is None else bool(value)
