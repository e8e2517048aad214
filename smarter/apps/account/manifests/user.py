"""Kind `User`: a person in the account, with a role. `metadata.name` is the username."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import AfterValidator, Field

from smarter.apps.account import selectors, services
from smarter.apps.account.manifests.common import iso, metadata_of
from smarter.apps.account.models import Membership, Role
from smarter.lib.errors import Conflict
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest
from smarter.lib.manifests.broker import Caller


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("must be an email address such as ada@example.com") from None
    return value


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]


class UserConfig(CamelModel):
    email: Email
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    role: Literal["admin", "member"] = "member"
    is_active: bool = True


class UserSpec(CamelModel):
    config: UserConfig


class UserManifest(Manifest):
    kind: Literal["User"] = "User"
    spec: UserSpec


class UserBroker(Broker):
    kind = "User"
    manifest_model = UserManifest
    columns = (
        Column("name"),
        Column("email"),
        Column("role"),
        Column("isActive", "boolean"),
        Column("lastLogin", "datetime"),
    )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        config = manifest.spec.config
        username = manifest.metadata.name
        membership = selectors.membership_get(account=caller.account, username=username)
        user_fields = {
            "email": str(config.email),
            "first_name": config.first_name,
            "last_name": config.last_name,
            "is_active": config.is_active,
        }
        if membership is None:
            membership = services.member_add(account=caller.account, username=username, role=config.role, **user_fields)
            return ApplyOutcome("created", self._describe(membership))
        if membership.user_id == caller.user.pk and config.role != membership.role:
            raise Conflict("You cannot change your own role.", context={"kind": self.kind, "name": username})
        changed = services.member_update(membership=membership, role=config.role, **user_fields)
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(membership))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": membership.user.username,
                "email": membership.user.email,
                "role": membership.role,
                "isActive": membership.user.is_active,
                "lastLogin": iso(membership.user.last_login),
            }
            for membership in selectors.memberships_of(caller.account)
        ]

    def _get(self, caller: Caller, name: str) -> Membership:
        membership = selectors.membership_get(account=caller.account, username=name)
        if membership is None:
            raise self.not_found(name)
        return membership

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, membership: Membership) -> dict[str, Any]:
        user = membership.user
        return self.envelope(
            metadata_of(user.username),
            {
                "config": {
                    "email": user.email,
                    "firstName": user.first_name,
                    "lastName": user.last_name,
                    "role": membership.role,
                    "isActive": user.is_active,
                }
            },
            {
                "accountNumber": membership.account.account_number,
                "dateJoined": iso(user.date_joined),
                "lastLogin": iso(user.last_login),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        membership = self._get(caller, name)
        self.check_can_write(caller)
        if membership.user_id == caller.user.pk:
            raise Conflict("You cannot remove yourself from the account.", context={"kind": self.kind, "name": name})
        services.member_remove(membership=membership)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "User",
            "metadata": {"name": "example_user", "description": "A prompt engineer", "version": "0.1.0"},
            "spec": {
                "config": {
                    "email": "example_user@example.com",
                    "firstName": "Ada",
                    "lastName": "Lovelace",
                    "role": Role.MEMBER.value,
                    "isActive": True,
                }
            },
        }
