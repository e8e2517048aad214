"""Kind `ApiKey` (alias `SmarterAuthToken`): a named key; its plaintext is shown once, on creation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from pydantic import Field, field_serializer, field_validator

from smarter.apps.account import selectors, services
from smarter.apps.account.models import ApiKey
from smarter.lib.errors import Conflict, FieldError, ValidationFailed
from smarter.lib.manifests import CamelModel, Column, ModelBroker, RowServices, Written, iso, section_manifest
from smarter.lib.manifests.broker import Caller


class ApiKeyConfig(CamelModel):
    username: str | None = Field(None, description="Owner of the key; default: the caller.")
    expires_at: datetime | None = Field(None, description="ISO 8601; unset: never expires.")
    is_active: bool = Field(True, description="false revokes the key, at once and for good.")

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and timezone.is_naive(value):
            return timezone.make_aware(value, UTC)
        return value

    @field_serializer("expires_at")
    def _iso(self, value: datetime | None) -> str | None:
        return iso(value)  # as Python writes it ("+00:00"), like every other date of the API


ApiKeyManifest = section_manifest("ApiKey", "config", ApiKeyConfig, optional=True)


class ApiKeyBroker(ModelBroker[ApiKey]):
    kind = "ApiKey"
    aliases = ("SmarterAuthToken", "AuthToken")
    manifest_model = ApiKeyManifest
    columns = (
        Column("name"),
        Column("keyPrefix", source="display_prefix"),
        Column("username", source=lambda key: key.user.get_username()),
        Column("isActive", "boolean", source=lambda key: key.is_usable()),
        Column("expiresAt", "datetime"),
        Column("lastUsedAt", "datetime"),
    )
    writes = RowServices(services, "api_key")

    def rows(self, caller: Caller) -> QuerySet[ApiKey]:
        return selectors.api_keys_visible_to(caller)

    def spec_values(self, row: ApiKey) -> dict[str, Any]:
        config = ApiKeyConfig.model_construct(
            username=row.user.get_username(), expires_at=row.expires_at, is_active=row.revoked_at is None
        )
        return {"config": config}

    def status_of(self, row: ApiKey) -> dict[str, Any]:
        return {
            "keyPrefix": row.display_prefix,
            "usable": row.is_usable(),
            "expired": row.expires_at is not None and row.expires_at <= timezone.now(),
            "revokedAt": iso(row.revoked_at),
            "lastUsedAt": iso(row.last_used_at),
            "createdAt": iso(row.created_at),
        }

    def fields_of(self, caller: Caller, manifest: Any, row: ApiKey | None) -> dict[str, Any]:
        config = manifest.spec.config
        if row is None and not config.is_active:
            raise ValidationFailed(
                "A new API key cannot be created revoked; set isActive to true.",
                errors=[FieldError("spec.config.isActive", "must be true for a new key")],
            )
        if row is None:
            return {**super().fields_of(caller, manifest, row), "user": self._owner(caller, config.username)}
        if config.username is not None and config.username != row.user.get_username():
            raise ValidationFailed(
                "The owner of an existing key cannot change; create a new key for that user.",
                errors=[FieldError("spec.config.username", "cannot change the owner of an existing key")],
            )
        if config.is_active and row.revoked_at is not None:
            raise Conflict(
                f"API key {row.name!r} is revoked and cannot be re-activated; create a new key.",
                context={"kind": self.kind, "name": row.name},
            )
        return super().fields_of(caller, manifest, row)

    def _owner(self, caller: Caller, username: str | None) -> Any:
        if username is None:
            return caller.user
        membership = selectors.membership_get(account=caller.account, username=username)
        if membership is None:
            raise ValidationFailed(
                f"{username!r} is not a member of this account.",
                errors=[FieldError("spec.config.username", "must be a member of this account")],
            )
        return membership.user

    def write(self, caller: Caller, name: str, row: ApiKey | None, fields: dict[str, Any]) -> Written[ApiKey]:
        if row is None:
            issued = services.api_key_create(
                account=caller.account,
                user=fields["user"],
                name=name,
                description=fields["description"],
                expires_at=fields["expires_at"],
            )
            note = {"apiKey": issued.plaintext, "note": "Store this key now: it is not shown again."}
            return Written("created", issued.api_key, extra=note)
        changed = services.api_key_update(
            api_key=row, description=fields["description"], expires_at=fields["expires_at"]
        )
        if not fields["is_active"]:
            changed = services.api_key_revoke(api_key=row) or changed
        return Written("updated" if changed else "unchanged", row)
