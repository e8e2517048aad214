"""The tenant (Account), its people (Membership with a role), API keys, Secrets, the journal and
feature switches."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from smarter.apps.account.features import Feature

ACCOUNT_NUMBER_PATTERN = r"^\d{4}-\d{4}-\d{4}$"


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Account(TimestampedModel):
    """A tenant: a company. Every resource belongs to exactly one account."""

    name = models.SlugField(max_length=50, unique=True, help_text="snake_case name, the manifest name")
    account_number = models.CharField(
        max_length=14, unique=True, validators=[RegexValidator(ACCOUNT_NUMBER_PATTERN)], editable=False
    )
    company_name = models.CharField(max_length=255)
    phone_number = models.CharField(max_length=50, blank=True)
    address1 = models.CharField(max_length=255, blank=True)
    address2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=255, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=20, default="en-US")
    timezone = models.CharField(max_length=64, default="UTC")
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.account_number})"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(TimestampedModel):
    """A user's place in an account. A user may belong to several accounts, with a role in each."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.account.name} as {self.role}"


class ApiKey(TimestampedModel):
    """An API key: only its SHA-256 digest and a short lookup prefix are stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="apikey_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        return f"smarter_{self.prefix}…"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Secret(TimestampedModel):
    """A value (password, token) encrypted with Fernet; readable only by the code that uses it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="secrets")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    # The manifest's metadata, kept as every other kind keeps it.
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=list, blank=True)
    encrypted_value = models.TextField(editable=False)
    expires_at = models.DateField(null=True, blank=True)
    last_accessed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="secret_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JournalEntry(models.Model):
    """One cli command: who ran it, on what, with what result. Readable by the account's admins."""

    key = models.CharField(max_length=32, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="journal", null=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    command = models.CharField(max_length=32)
    kind = models.CharField(max_length=50, blank=True)
    name = models.CharField(max_length=255, blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="journal_account_recent")]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"{self.command} {self.kind} {self.name} → {self.status_code}"


class FeatureSwitch(models.Model):
    """A feature's switch for every account (on unless switched off). Keyed by the feature's
    name, so that an account's own switch names the feature in its own row."""

    feature = models.CharField(max_length=64, primary_key=True, choices=Feature.choices)
    active = models.BooleanField(
        default=True, help_text="Off: the feature is off for every account without its own switch."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["feature"]
        verbose_name_plural = "feature switches"

    def __str__(self) -> str:
        return f"{self.feature}: {'on' if self.active else 'off'}"


class AccountFeatureSwitch(models.Model):
    """An account's own switch of a feature: it decides before the feature's switch."""

    switch = models.ForeignKey(FeatureSwitch, on_delete=models.CASCADE, related_name="accounts", db_column="feature")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="feature_switches")
    active = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["switch", "account"], name="feature_switch_unique_account")]
        verbose_name_plural = "account feature switches"

    def __str__(self) -> str:
        return f"{self.switch_id} for {self.account}: {'on' if self.active else 'off'}"


# Billing lives in its own package; importing it here registers its models with the app.
from smarter.apps.account.billing.models import (  # noqa: E402
    AccountLimits,
    BudgetAlert,
    Charge,
    ChargeKind,
    Price,
    UsageEvent,
    UsageRollup,
)

__all__ = [
    "Account",
    "AccountFeatureSwitch",
    "AccountLimits",
    "ApiKey",
    "BudgetAlert",
    "Charge",
    "ChargeKind",
    "FeatureSwitch",
    "JournalEntry",
    "Membership",
    "Price",
    "Role",
    "Secret",
    "UsageEvent",
    "UsageRollup",
]
