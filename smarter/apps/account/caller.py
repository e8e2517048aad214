"""Who is calling: a user acting in one account with one role (and maybe through an API key)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from smarter.apps.account.models import Account, ApiKey, Role


@dataclass(frozen=True)
class Caller:
    user: User
    account: Account
    role: str
    api_key: ApiKey | None = None

    @property
    def is_superuser(self) -> bool:
        return bool(getattr(self.user, "is_superuser", False))

    @property
    def is_admin(self) -> bool:
        """Account admins, and the platform operator (a superuser) acting in any account."""
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def role_name(self) -> str:
        return self.role
