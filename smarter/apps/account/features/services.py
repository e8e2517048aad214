"""The one write of feature switches. The admin site calls it; each change is journaled."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.db import transaction

from smarter.apps.account.features import FEATURES
from smarter.apps.account.models import Account, AccountFeatureSwitch, FeatureSwitch
from smarter.apps.account.services import journal_record
from smarter.lib.errors import FieldError, ValidationFailed


@transaction.atomic
def feature_switch_set(
    *, feature: str, active: bool | None, account: Account | None = None, user: User | None = None
) -> bool:
    """Switch `feature` on or off for every account (`account` None) or for one account.

    `active=None` clears: the account's own switch is removed (the account follows the feature's
    switch again), the feature's switch goes back on. Returns whether anything changed; a change
    is journaled (in the account's journal for its own switch), with who made it.
    """
    if feature not in FEATURES:
        raise ValidationFailed(
            f"Unknown feature {feature!r}.", errors=[FieldError("feature", f"must be one of {', '.join(FEATURES)}")]
        )
    switch, _ = FeatureSwitch.objects.get_or_create(feature=feature)
    if account is None:
        state = True if active is None else active
        changed = switch.active != state
        if changed:
            switch.active = state
            switch.save(update_fields=["active", "updated_at"])
    elif active is None:
        changed = AccountFeatureSwitch.objects.filter(switch=switch, account=account).delete()[0] > 0
    else:
        own = AccountFeatureSwitch.objects.filter(switch=switch, account=account).first()
        changed = own is None or own.active != active
        if own is None:
            AccountFeatureSwitch.objects.create(switch=switch, account=account, active=active)
        elif changed:
            own.active = active
            own.save(update_fields=["active", "updated_at"])
    if changed:
        journal_record(
            key=uuid.uuid4().hex,
            account=account,
            user=user,
            api_key=None,
            command={True: "feature_on", False: "feature_off", None: "feature_default"}[active],
            kind="FeatureSwitch",
            name=feature,
            status_code=200,
            duration_ms=0.0,
            request_id="",
        )
    return changed
