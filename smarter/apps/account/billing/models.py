"""Billing: the price table, the outbox of usage events, charges, rollups, limits and alerts.

The account app sits below the chat and chatbot apps (DESIGN.md floors), so nothing here holds
a foreign key up to them: the chatbot, the chat session and the turn are kept as plain ids and
names. That also keeps a charge readable after the chatbot or the session is deleted, which is
what an invoice needs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from smarter.apps.account.models import Account, ApiKey

COST_DIGITS = 18
COST_PLACES = 8


class Price(models.Model):
    """What tokens (and tool calls) cost, in US dollars, per provider and model.

    `provider = "*"` prices a model whatever provider serves it; an exact provider row wins.
    Tool calls are priced by the rows of provider `smarter`, model `plugin` or `tool`.
    """

    ANY_PROVIDER = "*"

    provider = models.CharField(max_length=50, default=ANY_PROVIDER)
    model = models.CharField(max_length=255)
    prompt_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    completion_per_million = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    per_call = models.DecimalField(max_digits=12, decimal_places=8, default=0, help_text="USD per call (tools)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "model"], name="price_unique_provider_model")]
        ordering = ["provider", "model"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class ChargeKind(models.TextChoices):
    COMPLETION = "completion", "Completion"
    PLUGIN = "plugin", "Plugin call"
    TOOL = "tool", "Built-in tool call"


class UsageEvent(models.Model):
    """The outbox: one row per chat turn (or per evaluation judge call, keyed `judge-...`),
    written in the turn's own transaction.

    A Celery task turns it into Charges after commit; a periodic sweep re-enqueues rows still
    pending (broker down, worker killed). `payload` lists what to write, so the task needs
    nothing but this row.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    key = models.CharField(max_length=100, unique=True, help_text="derived from the turn: turn-<id>")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage_events")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    chatbot_name = models.CharField(max_length=50, blank=True)
    total_tokens = models.PositiveIntegerField(default=0, help_text="the turn's tokens, for budgets")
    payload = models.JSONField(default=dict, help_text="the charges to write: common fields and items")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"], name="usage_event_pending"),
            models.Index(fields=["account", "created_at"], name="usage_event_account_month"),
            models.Index(fields=["account", "chatbot_name", "created_at"], name="usage_event_chatbot_month"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class Charge(models.Model):
    """One billable event: the completion of a turn, or one tool call. Written exactly once,
    whatever the number of deliveries, because `idempotency_key` is unique."""

    idempotency_key = models.CharField(max_length=120, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="charges")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key_name = models.CharField(max_length=50, blank=True, help_text="kept when the key is deleted")
    chatbot_id = models.BigIntegerField(null=True, blank=True)
    chatbot_name = models.CharField(max_length=50, blank=True)
    session_key = models.CharField(max_length=64, blank=True)
    turn_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=10, choices=ChargeKind.choices)
    tool_name = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0)
    created_at = models.DateTimeField(default=timezone.now, help_text="when the usage happened (the turn)")
    recorded_at = models.DateTimeField(default=timezone.now, help_text="when this row was written")

    class Meta:
        indexes = [
            models.Index(fields=["account", "created_at"], name="charge_account_time"),
            models.Index(fields=["recorded_at"], name="charge_recorded"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.idempotency_key


class TurnRating(models.Model):
    """A visitor's thumbs up or down on a turn, as usage counts it: keyed by the turn, grouped by
    the same chatbot, model, key, channel and time as the turn's charges (copied from its outbox
    row). The chat app keeps the feedback itself; a cleared rating removes this row."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="turn_ratings")
    turn_id = models.BigIntegerField(unique=True)
    rating = models.CharField(max_length=4, help_text="up or down")
    chatbot_name = models.CharField(max_length=50, blank=True)
    api_key_name = models.CharField(max_length=50, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    model = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(help_text="when the rated turn happened")

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"], name="turn_rating_account_time")]

    def __str__(self) -> str:
        return f"{self.rating} on turn {self.turn_id}"


class UsageRollup(models.Model):
    """Charges summed per hour or per day, account, chatbot, model, API key (0: no key) and the
    channel the turns came through (`evaluation` for evaluation runs)."""

    class Period(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage_rollups")
    period = models.CharField(max_length=4, choices=Period.choices)
    period_start = models.DateTimeField()
    chatbot_id = models.BigIntegerField(default=0)
    chatbot_name = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=255, blank=True)
    api_key_id = models.BigIntegerField(default=0)
    api_key_name = models.CharField(max_length=50, blank=True)
    channel = models.CharField(max_length=10, blank=True)
    requests = models.PositiveIntegerField(default=0, help_text="completion charges: one per turn")
    tool_calls = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period", "period_start", "chatbot_id", "model", "api_key_id", "channel"],
                name="rollup_unique_bucket_channel",
            )
        ]
        indexes = [models.Index(fields=["account", "period", "period_start"], name="rollup_account_period")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period} {self.period_start:%Y-%m-%d %H:00}"


class AccountLimits(models.Model):
    """Per-account overrides of the platform's limits (SMARTER_RATE_LIMIT_*, SMARTER_MONTHLY_TOKEN_*).
    An empty field means the platform default; 0 means unlimited."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="limits")
    api_key_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    chatbot_ip_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    monthly_token_budget = models.PositiveBigIntegerField(null=True, blank=True)
    budget_warning_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    chatbot_monthly_token_budgets = models.JSONField(
        default=dict, blank=True, help_text='per chatbot name, e.g. {"support": 100000}'
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "account limits"

    def __str__(self) -> str:
        return f"limits of {self.account.name}"


class BudgetAlert(models.Model):
    """A budget threshold crossed in a month: the soft warning, or the hard limit refusing turns."""

    class Level(models.TextChoices):
        WARNING = "warning", "Warning"
        EXCEEDED = "exceeded", "Exceeded"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="budget_alerts")
    scope = models.CharField(max_length=60, default="account", help_text="account, or chatbot:<name>")
    month = models.CharField(max_length=7, help_text="YYYY-MM")
    level = models.CharField(max_length=8, choices=Level.choices)
    limit = models.PositiveBigIntegerField()
    used = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "scope", "month", "level"], name="budget_alert_once")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.scope} {self.month} {self.level}"
