"""Feature switches per account, kept in django-waffle's switches (edited in the admin).

A feature is on unless switched off: the switch `<feature>:<account number>` decides for one
account (e.g. `openai_compatible_endpoint:1234-5678-9012` off), else the switch `<feature>`
decides for every account, else the feature is on.
"""

from __future__ import annotations

import logging

from waffle import get_waffle_switch_model

from smarter.apps.account.models import Account

logger = logging.getLogger(__name__)

OPENAI_COMPATIBLE_ENDPOINT = "openai_compatible_endpoint"
CUSTOM_DOMAINS = "custom_domains"
FEATURES = (OPENAI_COMPATIBLE_ENDPOINT, CUSTOM_DOMAINS)


def _switch(name: str) -> bool | None:
    """The switch's state, or None when no such switch exists."""
    model = get_waffle_switch_model()
    try:
        switch = model.get(name)  # cached by waffle
    except Exception as error:  # the cache backend is down: ask the database
        logger.warning("waffle cache unavailable (%s): reading switch %s from the database", error, name)
        row = model.objects.filter(name=name).values_list("active", flat=True).first()
        return None if row is None else bool(row)
    return bool(switch.active) if switch.pk is not None else None


def feature_enabled(*, account: Account, feature: str) -> bool:
    for name in (f"{feature}:{account.account_number}", feature):
        state = _switch(name)
        if state is not None:
            return state
    return True
