"""Feature switches: a feature is on for an account unless a switch turns it off.

Each feature has one switch for every account (`FeatureSwitch`, on unless switched off) and, per
account, an optional switch of its own (`AccountFeatureSwitch`) that decides before it. They are
edited in the admin (*Account > Feature switches*), always through `services.feature_switch_set`,
and read through `selectors.feature_enabled` or, inside a statement that already reads the
account, its SQL form `selectors.feature_on_sql`.

This module names the features only, so that the models can import it.
"""

from __future__ import annotations

from typing import Final

from django.db import models


class Feature(models.TextChoices):
    OPENAI_COMPATIBLE_ENDPOINT = "openai_compatible_endpoint", "OpenAI-compatible endpoint"
    CUSTOM_DOMAINS = "custom_domains", "Custom domains of deployed chatbots"


# Plain strings: they are compared with, and shown in, messages.
OPENAI_COMPATIBLE_ENDPOINT: Final[str] = Feature.OPENAI_COMPATIBLE_ENDPOINT.value
CUSTOM_DOMAINS: Final[str] = Feature.CUSTOM_DOMAINS.value
FEATURES: Final[tuple[str, ...]] = tuple(Feature.values)
