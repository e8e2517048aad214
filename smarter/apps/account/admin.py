"""Django admin of the account app. Secrets show no value, and writes go through services.
Billing: prices and per-account limits are edited here; charges, the outbox and rollups are read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest

from smarter.apps.account import services
from smarter.apps.account.features.services import feature_switch_set
from smarter.apps.account.models import (
    Account,
    AccountFeatureSwitch,
    AccountLimits,
    ApiKey,
    BudgetAlert,
    Charge,
    FeatureSwitch,
    JournalEntry,
    Membership,
    Price,
    Secret,
    UsageEvent,
    UsageRollup,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "account_number", "company_name", "is_active", "created_at"]
    search_fields = ["name", "account_number", "company_name"]
    readonly_fields = ["account_number", "created_at", "updated_at"]
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        if change:
            profile = {field: getattr(obj, field) for field in services.PROFILE_FIELDS}
            stored = Account.objects.get(pk=obj.pk)
            services.account_update(account=stored, **profile)
            if stored.is_active != obj.is_active or stored.name != obj.name:
                services.account_set_identity(account=stored, name=obj.name, is_active=obj.is_active)
            return
        created = services.account_create(
            company_name=obj.company_name,
            name=obj.name,
            **{field: getattr(obj, field) for field in services.PROFILE_FIELDS if field != "company_name"},
        )
        obj.pk, obj.account_number = created.pk, created.account_number
        obj._state.adding = False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "account__name"]
    raw_id_fields = ["user", "account"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the API or `create_api_key`; here they can be read and revoked."""

    list_display = ["name", "display_prefix", "account", "user", "expires_at", "revoked_at", "last_used_at"]
    search_fields = ["name", "prefix", "account__name", "user__username"]
    readonly_fields = ["account", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            services.api_key_revoke(api_key=key)


class SecretForm(forms.ModelForm):
    new_value = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the value.",
    )

    class Meta:
        model = Secret
        fields = ["account", "name", "description", "version", "expires_at"]


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    form = SecretForm
    list_display = ["name", "account", "description", "expires_at", "last_accessed_at", "updated_at"]
    search_fields = ["name", "account__name"]

    def save_model(self, request: HttpRequest, obj: Secret, form: Any, change: bool) -> None:
        value = form.cleaned_data.get("new_value") or None
        if change:
            services.secret_update(
                secret=obj,
                value=value,
                description=obj.description,
                version=obj.version,
                expires_at=obj.expires_at,
            )
            return
        created = services.secret_create(
            account=obj.account,
            name=obj.name,
            value=value or "",
            description=obj.description,
            version=obj.version,
            expires_at=obj.expires_at,
        )
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "user", "command", "kind", "name", "status_code", "duration_ms"]
    list_filter = ["command", "status_code"]
    search_fields = ["name", "kind", "user__username", "account__name", "key", "request_id"]
    readonly_fields = [field.name for field in JournalEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- feature switches -------------------------------------------------------------------------------
class AccountFeatureSwitchInline(admin.TabularInline):
    model = AccountFeatureSwitch
    extra = 0
    raw_id_fields = ["account"]
    fields = ["account", "active", "updated_at"]
    readonly_fields = ["updated_at"]
    verbose_name = "account's own switch"
    verbose_name_plural = "accounts' own switches (they decide before the switch above)"


@admin.register(FeatureSwitch)
class FeatureSwitchAdmin(admin.ModelAdmin):
    """A feature's switch for every account, with the accounts' own switches inline. Every change
    goes through `feature_switch_set`, which journals it."""

    list_display = ["feature", "name", "active", "account_switches", "updated_at"]
    readonly_fields = ["updated_at"]
    inlines = [AccountFeatureSwitchInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["feature", "updated_at"] if obj is not None else ["updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a feature without a switch is on: untick "active" instead

    @admin.display(description="name")
    def name(self, obj: FeatureSwitch) -> str:
        return obj.feature  # as the docs and the code name it

    @admin.display(description="accounts' own switches")
    def account_switches(self, obj: FeatureSwitch) -> int:
        return obj.accounts.count()

    def save_model(self, request: HttpRequest, obj: FeatureSwitch, form: Any, change: bool) -> None:
        feature_switch_set(feature=obj.feature, active=obj.active, user=_staff(request))
        obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        feature, user = form.instance.feature, _staff(request)
        for own in formset.save(commit=False):
            stored = AccountFeatureSwitch.objects.filter(pk=own.pk).select_related("account").first()
            if stored is not None and stored.account_id != own.account_id:  # moved to another account
                feature_switch_set(feature=feature, account=stored.account, active=None, user=user)
            feature_switch_set(feature=feature, account=own.account, active=own.active, user=user)
        for own in formset.deleted_objects:
            feature_switch_set(feature=feature, account=own.account, active=None, user=user)


def _staff(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


# --- billing ----------------------------------------------------------------------------------------
@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """The price table: edits apply to turns written from then on (within 30 seconds)."""

    list_display = ["provider", "model", "prompt_per_million", "completion_per_million", "per_call", "updated_at"]
    list_editable = ["prompt_per_million", "completion_per_million", "per_call"]
    search_fields = ["provider", "model"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the billing tasks only: readable, never added or changed by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Charge)
class ChargeAdmin(_ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "chatbot_name",
        "model",
        "api_key_name",
        "total_tokens",
        "cost",
        "idempotency_key",
    ]
    list_filter = ["kind", "provider"]
    search_fields = ["idempotency_key", "account__name", "chatbot_name", "model", "session_key"]
    raw_id_fields = ["account", "user", "api_key"]


@admin.register(UsageEvent)
class UsageEventAdmin(_ReadOnlyAdmin):
    list_display = ["key", "account", "status", "total_tokens", "attempts", "created_at", "processed_at"]
    list_filter = ["status"]
    search_fields = ["key", "account__name"]
    raw_id_fields = ["account"]


@admin.register(UsageRollup)
class UsageRollupAdmin(_ReadOnlyAdmin):
    list_display = ["period_start", "period", "account", "chatbot_name", "model", "api_key_name", "requests", "cost"]
    list_filter = ["period"]
    search_fields = ["account__name", "chatbot_name", "model"]


@admin.register(AccountLimits)
class AccountLimitsAdmin(admin.ModelAdmin):
    """Per-account overrides of the platform's rate limits and budgets (empty: the default)."""

    list_display = [
        "account",
        "api_key_requests_per_minute",
        "chatbot_ip_requests_per_minute",
        "monthly_token_budget",
        "budget_warning_percent",
        "updated_at",
    ]
    search_fields = ["account__name"]
    raw_id_fields = ["account"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "account", "scope", "month", "level", "limit", "used"]
    list_filter = ["level", "month"]
    search_fields = ["account__name"]
