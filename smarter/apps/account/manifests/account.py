"""Kind `Account`: the tenant's company profile. Creating and deleting is for the platform operator."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from smarter.apps.account import selectors, services
from smarter.apps.account.manifests.common import iso
from smarter.apps.account.models import Account
from smarter.lib.errors import Conflict, PermissionDenied
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest
from smarter.lib.manifests.broker import ApplyAction, Caller


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


class AccountSpec(CamelModel):
    config: AccountConfig


class AccountManifest(Manifest):
    kind: Literal["Account"] = "Account"
    spec: AccountSpec


class AccountBroker(Broker):
    kind = "Account"
    manifest_model = AccountManifest
    columns = (
        Column("name"),
        Column("accountNumber"),
        Column("companyName"),
        Column("isActive", "boolean"),
        Column("createdAt", "datetime"),
    )

    def check_can_write(self, caller: Caller) -> None:
        if not caller.is_superuser:
            raise PermissionDenied(
                "Only the platform operator may create, change or delete accounts.",
                context={"kind": self.kind},
            )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        profile = manifest.spec.config.model_dump()
        account = Account.objects.filter(name=manifest.metadata.name).first()
        action: ApplyAction
        if account is None:
            account = services.account_create(name=manifest.metadata.name, **profile)
            action = "created"
        else:
            action = "updated" if services.account_update(account=account, **profile) else "unchanged"
        return ApplyOutcome(action, self._describe(account))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": account.name,
                "accountNumber": account.account_number,
                "companyName": account.company_name,
                "isActive": account.is_active,
                "createdAt": iso(account.created_at),
            }
            for account in selectors.accounts_visible_to(caller)
        ]

    def _get(self, caller: Caller, name: str) -> Account:
        account = selectors.accounts_visible_to(caller).filter(name=name).first()
        if account is None:
            raise self.not_found(name)
        return account

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, account: Account) -> dict[str, Any]:
        config = AccountConfig.model_validate({field: getattr(account, field) for field in services.PROFILE_FIELDS})
        return self.envelope(
            {"name": account.name, "description": "", "version": "0.1.0", "tags": [], "annotations": []},
            {"config": config.model_dump(by_alias=True)},
            {
                "accountNumber": account.account_number,
                "isActive": account.is_active,
                "members": account.memberships.count(),
                "createdAt": iso(account.created_at),
                "updatedAt": iso(account.updated_at),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        account = self._get(caller, name)
        self.check_can_write(caller)
        if account.pk == caller.account.pk:
            raise Conflict(
                "You cannot delete the account you are calling from.",
                context={"kind": self.kind, "name": name},
            )
        services.account_delete(account=account)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "Account",
            "metadata": {"name": "example_corp", "description": "Example Corp's tenant", "version": "0.1.0"},
            "spec": {
                "config": {
                    "companyName": "Example Corp",
                    "phoneNumber": "+1 555 0100",
                    "address1": "1 Main Street",
                    "city": "Springfield",
                    "state": "IL",
                    "postalCode": "62701",
                    "country": "US",
                    "language": "en-US",
                    "timezone": "America/Chicago",
                    "currency": "USD",
                }
            },
        }
