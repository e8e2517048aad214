"""Test data for the account app, made through the services (so tests exercise the real paths)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from smarter.apps.account import services
from smarter.apps.account.models import Account, ApiKey, Role


@dataclass
class Persona:
    """Someone calling the API: their account, user, role and a ready client with their key."""

    account: Account
    user: AbstractBaseUser
    role: str
    api_key: ApiKey
    key: str

    @property
    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.key}")
        return client

    @property
    def username(self) -> str:
        return self.user.get_username()


def make_account(company_name: str = "Acme", **profile: Any) -> Account:
    return services.account_create(company_name=company_name, **profile)


def make_persona(account: Account, username: str, role: str = Role.MEMBER, **user_fields: Any) -> Persona:
    membership = services.member_add(
        account=account, username=username, email=f"{username}@example.test", role=role, **user_fields
    )
    issued = services.api_key_create(account=account, user=membership.user, name=f"{username}_key")
    return Persona(account=account, user=membership.user, role=role, api_key=issued.api_key, key=issued.plaintext)
