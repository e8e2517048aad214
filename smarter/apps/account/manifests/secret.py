"""Kind `Secret`: an encrypted value. It is write-only: describe and get never return it."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from smarter.apps.account import selectors, services
from smarter.apps.account.manifests.common import iso, metadata_of
from smarter.apps.account.models import Secret
from smarter.lib.errors import FieldError, ValidationFailed
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest
from smarter.lib.manifests.broker import Caller


class SecretConfig(CamelModel):
    value: str | None = Field(
        None,
        min_length=1,
        max_length=8192,
        description="Write-only. Required to create; omit it to keep the stored value.",
    )
    description: str = Field("", max_length=2000)
    expiration_date: date | None = None


class SecretSpec(CamelModel):
    config: SecretConfig


class SecretManifest(Manifest):
    kind: Literal["Secret"] = "Secret"
    spec: SecretSpec


class SecretBroker(Broker):
    kind = "Secret"
    manifest_model = SecretManifest
    columns = (
        Column("name"),
        Column("description"),
        Column("expirationDate", "date"),
        Column("lastAccessedAt", "datetime"),
        Column("updatedAt", "datetime"),
    )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        config = manifest.spec.config
        description = config.description or manifest.metadata.description
        secret = selectors.secret_get(account=caller.account, name=manifest.metadata.name)
        if secret is None:
            if config.value is None:
                raise ValidationFailed(
                    "A new secret needs a value.",
                    context={"kind": self.kind, "name": manifest.metadata.name},
                    errors=[FieldError("spec.config.value", "required when creating a secret")],
                )
            secret = services.secret_create(
                account=caller.account,
                name=manifest.metadata.name,
                value=config.value,
                description=description,
                version=manifest.metadata.version,
                expires_at=config.expiration_date,
            )
            return ApplyOutcome("created", self._describe(secret))
        changed = services.secret_update(
            secret=secret,
            value=config.value,
            description=description,
            version=manifest.metadata.version,
            expires_at=config.expiration_date,
        )
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(secret))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": secret.name,
                "description": secret.description,
                "expirationDate": iso(secret.expires_at),
                "lastAccessedAt": iso(secret.last_accessed_at),
                "updatedAt": iso(secret.updated_at),
            }
            for secret in selectors.secrets_of(caller.account).defer("encrypted_value")
        ]

    def _get(self, caller: Caller, name: str) -> Secret:
        secret = selectors.secret_get(account=caller.account, name=name)
        if secret is None:
            raise self.not_found(name)
        return secret

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, secret: Secret) -> dict[str, Any]:
        return self.envelope(
            metadata_of(secret.name, secret.description, secret.version),
            {"config": {"description": secret.description, "expirationDate": iso(secret.expires_at)}},
            {
                "expired": selectors.secret_is_expired(secret),
                "lastAccessedAt": iso(secret.last_accessed_at),
                "createdAt": iso(secret.created_at),
                "updatedAt": iso(secret.updated_at),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        secret = self._get(caller, name)
        self.check_can_write(caller)
        services.secret_delete(secret=secret)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "Secret",
            "metadata": {
                "name": "crm_api_token",
                "description": "Token of the CRM's REST API",
                "version": "0.1.0",
            },
            "spec": {
                "config": {
                    "value": "replace-me-with-the-real-token",
                    "description": "Token of the CRM's REST API",
                    "expirationDate": None,
                }
            },
        }
