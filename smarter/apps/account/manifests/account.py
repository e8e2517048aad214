"""Kind `Account`: the tenant's company profile. Creating and deleting is for the platform operator."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from pydantic import Field

from smarter.apps.account import selectors, services
from smarter.apps.account.models import Account
from smarter.lib.errors import Conflict, PermissionDenied
from smarter.lib.manifests import CamelModel, Column, ModelBroker, RowServices, iso, section_manifest
from smarter.lib.manifests.broker import Caller


class AccountConfig(CamelModel):
    company_name: str = Field(min_length=1, max_length=255)
    phone_number: str = Field("", max_length=50)
    address1: str = Field("", max_length=255)
    address2: str = Field("", max_length=255)
    city: str = Field("", max_length=255)
    state: str = Field("", max_length=255)
    postal_code: str = Field("", max_length=20)
    country: str = Field("", max_length=100)
    language: str = Field("en-US", max_length=20)
    timezone: str = Field("UTC", max_length=64)
    currency: str = Field("USD", min_length=3, max_length=3)


AccountManifest = section_manifest("Account", "config", AccountConfig)


class AccountBroker(ModelBroker[Account]):
    kind = "Account"
    manifest_model = AccountManifest
    columns = (
        Column("name"),
        Column("accountNumber"),
        Column("companyName"),
        Column("isActive", "boolean"),
        Column("createdAt", "datetime"),
    )
    writes = RowServices(services, "account")

    def check_can_write(self, caller: Caller) -> None:
        if not caller.is_superuser:
            raise PermissionDenied(
                "Only the platform operator may create, change or delete accounts.",
                context={"kind": self.kind},
            )

    def rows(self, caller: Caller) -> QuerySet[Account]:
        return selectors.accounts_visible_to(caller)

    def create(self, caller: Caller, name: str, fields: dict[str, Any]) -> Account:
        return services.account_create(name=name, **fields)

    def status_of(self, row: Account) -> dict[str, Any]:
        return {
            "accountNumber": row.account_number,
            "isActive": row.is_active,
            "members": row.memberships.count(),
            "createdAt": iso(row.created_at),
            "updatedAt": iso(row.updated_at),
        }

    def authorize_delete(self, caller: Caller, row: Account) -> None:
        if row.pk == caller.account.pk:
            raise Conflict(
                "You cannot delete the account you are calling from.",
                context={"kind": self.kind, "name": row.name},
            )
