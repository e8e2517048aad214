"""Feature switches per account, kept in django-waffle's switches (edited in the admin).

A feature is on unless switched off: the switch `<feature>:<account number>` decides for one
account (e.g. `openai_compatible_endpoint:1234-5678-9012` off), else the switch `<feature>`
decides for every account, else the feature is on.

Switches are read from the database, not waffle's cache: as cheap as two cache reads, and a
switch edited a moment ago applies to the next request.
"""

from __future__ import annotations

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
