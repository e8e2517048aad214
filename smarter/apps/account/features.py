"""Feature switches per account, kept in django-waffle's switches (edited in the admin).

A feature is on unless switched off: the switch `<feature>:<account number>` decides for one
account (e.g. `openai_compatible_endpoint:1234-5678-9012` off), else the switch `<feature>`
decides for every account, else the feature is on.
"""

from __future__ import annotations

from waffle import get_waffle_switch_model

from smarter.apps.account.models import Account
from smarter.lib import prepared

OPENAI_COMPATIBLE_ENDPOINT = "openai_compatible_endpoint"
CUSTOM_DOMAINS = "custom_domains"
FEATURES = (OPENAI_COMPATIBLE_ENDPOINT, CUSTOM_DOMAINS)


def feature_enabled(*, account: Account, feature: str) -> bool:
    """One indexed read of both switches. Read from the database, not waffle's cache: it is as
    cheap as two cache reads, and a switch edited a moment ago applies to the next request."""
    account_switch = f"{feature}:{account.account_number}"
    states = {
        switch.name: bool(switch.active)
        for switch in prepared.fetch_by(get_waffle_switch_model(), name=(account_switch, feature))
    }
    for name in (account_switch, feature):
        if name in states:
            return states[name]
    return True
