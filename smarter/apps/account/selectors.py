"""Reads of the account app. Every selector takes the account and scopes by it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Account, ApiKey, JournalEntry, Membership, Secret
from smarter.lib import crypto

User = get_user_model()


def caller_for_api_key(plaintext: str) -> Caller | None:
    """The caller a presented key stands for, or None: unknown, revoked, expired or orphaned.

    One indexed lookup by prefix, then a constant-time digest comparison. Nothing is cached,
    so a revoked key fails on the very next request.
    """
    prefix = crypto.api_key_prefix(plaintext)
    if prefix is None:
        return None
    key = (
        ApiKey.objects.select_related("account", "user")
        .filter(prefix=prefix)
        .first()
    )
    if key is None or not crypto.digests_match(plaintext, key.digest) or not key.is_usable():
        return None
    if not key.account.is_active or not key.user.is_active:
        return None
    membership = Membership.objects.filter(account_id=key.account_id, user_id=key.user_id).only("role").first()
    if membership is None:
        return None
    return Caller(user=key.user, account=key.account, role=membership.role, api_key=key)


def caller_for_user(user: AbstractBaseUser, account_id: int | None = None) -> Caller | None:
    """A console user acting in `account_id` (their chosen account), else in their first one."""
    memberships = Membership.objects.select_related("account").filter(user_id=user.pk, account__is_active=True)
    if account_id is not None:
        memberships = memberships.filter(account_id=account_id)
    membership = memberships.order_by("created_at", "id").first()
    if membership is None:
        return None
    return Caller(user=user, account=membership.account, role=membership.role)


def accounts_visible_to(caller: Caller) -> QuerySet[Account]:
    if caller.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(pk=caller.account.pk)


def account_by_number(account_number: str) -> Account | None:
    return Account.objects.filter(account_number=account_number).first()


def memberships_of(account: Account) -> QuerySet[Membership]:
    return Membership.objects.filter(account=account).select_related("user").order_by("user__username")


def membership_get(*, account: Account, username: str) -> Membership | None:
    return memberships_of(account).filter(user__username=username).first()


def user_by_username(username: str) -> AbstractBaseUser | None:
    return User.objects.filter(username=username).first()


def api_keys_of(account: Account) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(account=account).select_related("user")


def api_keys_visible_to(caller: Caller) -> QuerySet[ApiKey]:
    """Admins see every key of the account; members only their own."""
    keys = api_keys_of(caller.account)
    return keys if caller.is_admin else keys.filter(user_id=caller.user.pk)


def api_key_get(*, account: Account, name: str) -> ApiKey | None:
    return api_keys_of(account).filter(name=name).first()


def secrets_of(account: Account) -> QuerySet[Secret]:
    return Secret.objects.filter(account=account)


def secret_get(*, account: Account, name: str) -> Secret | None:
    return secrets_of(account).filter(name=name).first()


def journal_of(
    account: Account,
    *,
    command: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    username: str | None = None,
    status_code: int | None = None,
) -> QuerySet[JournalEntry]:
    entries = JournalEntry.objects.filter(account=account).select_related("user", "api_key")
    if command:
        entries = entries.filter(command=command)
    if kind:
        entries = entries.filter(kind__iexact=kind)
    if name:
        entries = entries.filter(name=name)
    if username:
        entries = entries.filter(user__username=username)
    if status_code:
        entries = entries.filter(status_code=status_code)
    return entries


def secret_is_expired(secret: Secret) -> bool:
    return secret.expires_at is not None and secret.expires_at < timezone.localdate()
