"""Kind `ApiKey` (alias `SmarterAuthToken`): a named key; its plaintext is shown once, on creation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from django.utils import timezone
from pydantic import Field, field_validator

from smarter.apps.account import selectors, services
from smarter.apps.account.manifests.common import iso, metadata_of
from smarter.apps.account.models import ApiKey
from smarter.lib.errors import Conflict, FieldError, ValidationFailed
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest
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


class ApiKeySpec(CamelModel):
    config: ApiKeyConfig = Field(default_factory=ApiKeyConfig)


class ApiKeyManifest(Manifest):
    kind: Literal["ApiKey"] = "ApiKey"
    spec: ApiKeySpec = Field(default_factory=ApiKeySpec)


class ApiKeyBroker(Broker):
    kind = "ApiKey"
    aliases = ("SmarterAuthToken", "AuthToken")
    manifest_model = ApiKeyManifest
    columns = (
        Column("name"),
        Column("keyPrefix"),
        Column("username"),
        Column("isActive", "boolean"),
        Column("expiresAt", "datetime"),
        Column("lastUsedAt", "datetime"),
    )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        config = manifest.spec.config
        name = manifest.metadata.name
        key = selectors.api_key_get(account=caller.account, name=name)
        if key is None:
            if not config.is_active:
                raise ValidationFailed(
                    "A new API key cannot be created revoked; set isActive to true.",
                    errors=[FieldError("spec.config.isActive", "must be true for a new key")],
                )
            owner = self._owner(caller, config.username)
            issued = services.api_key_create(
                account=caller.account,
                user=owner,
                name=name,
                description=manifest.metadata.description,
                expires_at=config.expires_at,
            )
            return ApplyOutcome(
                "created",
                self._describe(issued.api_key),
                extra={"apiKey": issued.plaintext, "note": "Store this key now: it is not shown again."},
            )
        if config.username is not None and config.username != key.user.get_username():
            raise ValidationFailed(
                "The owner of an existing key cannot change; create a new key for that user.",
                errors=[FieldError("spec.config.username", "cannot change the owner of an existing key")],
            )
        if config.is_active and key.revoked_at is not None:
            raise Conflict(
                f"API key {name!r} is revoked and cannot be re-activated; create a new key.",
                context={"kind": self.kind, "name": name},
            )
        changed = services.api_key_update(
            api_key=key, description=manifest.metadata.description, expires_at=config.expires_at
        )
        if not config.is_active:
            changed = services.api_key_revoke(api_key=key) or changed
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(key))

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

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": key.name,
                "keyPrefix": key.display_prefix,
                "username": key.user.get_username(),
                "isActive": key.is_usable(),
                "expiresAt": iso(key.expires_at),
                "lastUsedAt": iso(key.last_used_at),
            }
            for key in selectors.api_keys_visible_to(caller)
        ]

    def _get(self, caller: Caller, name: str) -> ApiKey:
        key = selectors.api_keys_visible_to(caller).filter(name=name).first()
        if key is None:
            raise self.not_found(name)
        return key

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, key: ApiKey) -> dict[str, Any]:
        return self.envelope(
            metadata_of(key.name, key.description),
            {
                "config": {
                    "username": key.user.get_username(),
                    "expiresAt": iso(key.expires_at),
                    "isActive": key.revoked_at is None,
                }
            },
            {
                "keyPrefix": key.display_prefix,
                "usable": key.is_usable(),
                "expired": key.expires_at is not None and key.expires_at <= timezone.now(),
                "revokedAt": iso(key.revoked_at),
                "lastUsedAt": iso(key.last_used_at),
                "createdAt": iso(key.created_at),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        key = self._get(caller, name)
        self.check_can_write(caller)
        services.api_key_delete(api_key=key)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "ApiKey",
            "metadata": {"name": "ci_pipeline", "description": "Used by the CI pipeline", "version": "0.1.0"},
            "spec": {"config": {"expiresAt": None, "isActive": True}},
        }
