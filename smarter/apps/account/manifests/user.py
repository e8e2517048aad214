"""Kind `User`: a person in the account, with a role. `metadata.name` is the username."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from pydantic import AfterValidator, Field

from smarter.apps.account import selectors, services
from smarter.apps.account.models import Membership
from smarter.lib.errors import Conflict
from smarter.lib.manifests import CamelModel, Column, ModelBroker, RowServices, iso, section_manifest
from smarter.lib.manifests.broker import Caller


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("must be an email address such as ada@example.com") from None
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]


class UserConfig(CamelModel):
    # The user's fields, and the member's role in the account (a class docstring would be in the schema).
    email: Email
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    role: Literal["admin", "member"] = "member"
    is_active: bool = True


UserManifest = section_manifest("User", "config", UserConfig)


class UserBroker(ModelBroker[Membership]):
    kind = "User"
    manifest_model = UserManifest
    columns = (
        Column("name", source="user.username"),
        Column("email", source="user.email"),
        Column("role"),
        Column("isActive", "boolean", source="user.is_active"),
        Column("lastLogin", "datetime", source="user.last_login"),
    )
    writes = RowServices(services, "member", row="membership", verbs=("add", "update", "remove"))

    def rows(self, caller: Caller) -> QuerySet[Membership]:
        return selectors.memberships_of(caller.account)

    def find(self, caller: Caller, name: str) -> Membership | None:
        return selectors.membership_get(account=caller.account, username=name)

    def name_of(self, row: Membership) -> str:
        return row.user.get_username()

    def spec_values(self, row: Membership) -> dict[str, Any]:
        return {"config": self.section_from(UserConfig, row, row.user)}  # the role is the membership's

    def status_of(self, row: Membership) -> dict[str, Any]:
        return {
            "accountNumber": row.account.account_number,
            "dateJoined": iso(row.user.date_joined),
            "lastLogin": iso(row.user.last_login),
        }

    def create(self, caller: Caller, name: str, fields: dict[str, Any]) -> Membership:
        return services.member_add(account=caller.account, username=name, **fields)

    def authorize_write(self, caller: Caller, name: str, row: Membership | None, fields: dict[str, Any]) -> None:
        if row is not None and row.user_id == caller.user.pk and fields["role"] != row.role:
            raise Conflict("You cannot change your own role.", context={"kind": self.kind, "name": name})

    def authorize_delete(self, caller: Caller, row: Membership) -> None:
        if row.user_id == caller.user.pk:
            raise Conflict(
                "You cannot remove yourself from the account.", context={"kind": self.kind, "name": self.name_of(row)}
            )
