"""Kind `Secret`: an encrypted value. It is write-only: describe and get never return it."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet
from pydantic import Field

from smarter.apps.account import selectors, services
from smarter.apps.account.models import Secret
from smarter.lib.errors import FieldError, ValidationFailed
from smarter.lib.manifests import CamelModel, Column, ModelBroker, RowServices, iso, section_manifest
from smarter.lib.manifests.broker import Caller


class SecretConfig(CamelModel):
    value: str | None = Field(
        None,
        min_length=1,
        max_length=8192,
        exclude=True,  # write-only: never in what describe or get show
        description="Write-only. Required to create; omit it to keep the stored value.",
    )
    description: str = Field("", max_length=2000)
    expiration_date: date | None = None


SecretManifest = section_manifest("Secret", "config", SecretConfig)


class SecretBroker(ModelBroker[Secret]):
    kind = "Secret"
    manifest_model = SecretManifest
    columns = (
        Column("name"),
        Column("description"),
        Column("expirationDate", "date", source="expires_at"),
        Column("lastAccessedAt", "datetime"),
        Column("updatedAt", "datetime"),
    )
    writes = RowServices(services, "secret")

    def rows(self, caller: Caller) -> QuerySet[Secret]:
        return selectors.secrets_of(caller.account).defer("encrypted_value")

    def find(self, caller: Caller, name: str) -> Secret | None:
        return selectors.secret_get(account=caller.account, name=name)

    def spec_values(self, row: Secret) -> dict[str, Any]:
        return {"config": SecretConfig.model_construct(description=row.description, expiration_date=row.expires_at)}

    def status_of(self, row: Secret) -> dict[str, Any]:
        return {
            "expired": selectors.secret_is_expired(row),
            "lastAccessedAt": iso(row.last_accessed_at),
            "createdAt": iso(row.created_at),
            "updatedAt": iso(row.updated_at),
        }

    def fields_of(self, caller: Caller, manifest: Any, row: Secret | None) -> dict[str, Any]:
        config = manifest.spec.config
        if row is None and config.value is None:
            raise ValidationFailed(
                "A new secret needs a value.",
                context={"kind": self.kind, "name": manifest.metadata.name},
                errors=[FieldError("spec.config.value", "required when creating a secret")],
            )
        return {
            "value": config.value,
            "description": config.description or manifest.metadata.description,
            "version": manifest.metadata.version,
            "expires_at": config.expiration_date,
            "tags": manifest.metadata.tags,
            "annotations": manifest.metadata.annotations,
        }
