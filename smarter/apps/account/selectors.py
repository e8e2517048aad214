"""Reads of the account app. Every selector takes the account and scopes by it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Account, ApiKey, JournalEntry, Membership, Secret
from smarter.lib import crypto, prepared
from smarter.lib.manifests.broker import Caller as AnyCaller


def caller_for_api_key(plaintext: str) -> Caller | None:
    """The caller a presented key stands for, or None: unknown, revoked, expired or orphaned.

    One indexed lookup by prefix, then a constant-time digest comparison. Nothing is cached,
    so a revoked key fails on the very next request.
    """
    prefix = crypto.api_key_prefix(plaintext)
    if prefix is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key_lookup_columns()} {key_lookup_from()} WHERE {key_lookup_condition()}", [prefix])
        row = cursor.fetchone()
    return caller_from_key_row(plaintext, row) if row is not None else None


# Authentication runs on every request, and compiling an ORM query costs more than running it
# (~1 ms against ~0.1 ms), so the lookup is SQL built once from the models. Its parts are public
# so that a door can read more in the same statement (`smarter.apps.chatbot.selectors`).
_JOINED_MODELS = (ApiKey, Account, User)


@lru_cache(maxsize=1)
def key_lookup_columns() -> str:
    """The key, its account and user (aliases k, a, u), then the user's role in the account."""
    columns = [prepared.columns(model, alias) for alias, model in zip(("k", "a", "u"), _JOINED_MODELS, strict=True)]
    return f"{', '.join(columns)}, m.{connection.ops.quote_name('role')}"


def key_lookup_width() -> int:
    return sum(prepared.width(model) for model in _JOINED_MODELS) + 1


@lru_cache(maxsize=1)
def key_lookup_from() -> str:
    quote = connection.ops.quote_name
    # Only identifiers from the models' metadata are interpolated; values are bound parameters.
    return (
        f"FROM {quote(ApiKey._meta.db_table)} k "
        f"JOIN {quote(Account._meta.db_table)} a ON a.{quote('id')} = k.{quote('account_id')} "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = k.{quote('user_id')} "
        f"LEFT JOIN {quote(Membership._meta.db_table)} m "
        f"ON m.{quote('account_id')} = k.{quote('account_id')} "
        f"AND m.{quote('user_id')} = k.{quote('user_id')}"
    )


def key_lookup_condition() -> str:
    """The WHERE condition; its one parameter is the key's prefix (`crypto.api_key_prefix`)."""
    return f"k.{connection.ops.quote_name('prefix')} = %s"


def caller_from_key_row(plaintext: str, row: tuple[Any, ...]) -> Caller | None:
    """The caller of a row that starts with `key_lookup_columns()`, if `plaintext` is its key
    (constant-time comparison) and the key, its user, account and membership are all usable."""
    key_end = prepared.width(ApiKey)
    account_end = key_end + prepared.width(Account)
    user_end = account_end + prepared.width(User)
    key = prepared.hydrate(ApiKey, row[:key_end])
    account = prepared.hydrate(Account, row[key_end:account_end])
    user = prepared.hydrate(User, row[account_end:user_end])
    role = row[user_end]
    if not crypto.digests_match(plaintext, key.digest) or not key.is_usable():
        return None
    if not account.is_active or not user.is_active or role is None:
        return None
    key.account, key.user = account, user
    return Caller(user=user, account=account, role=role, api_key=key)


def caller_for_user(user: User, account_id: int | None = None) -> Caller | None:
    """A console user acting in `account_id` (their chosen account), else in their first one."""
    memberships = Membership.objects.select_related("account").filter(user_id=user.pk, account__is_active=True)
    if account_id is not None:
        memberships = memberships.filter(account_id=account_id)
    membership = memberships.order_by("created_at", "id").first()
    if membership is None:
        return None
    return Caller(user=user, account=membership.account, role=membership.role)


def accounts_visible_to(caller: AnyCaller) -> QuerySet[Account]:
    if caller.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(pk=caller.account.pk)


def account_by_number(account_number: str) -> Account | None:
    return Account.objects.filter(account_number=account_number).first()


def memberships_of(account: Account) -> QuerySet[Membership]:
    return Membership.objects.filter(account=account).select_related("user").order_by("user__username")


def membership_get(*, account: Account, username: str) -> Membership | None:
    return memberships_of(account).filter(user__username=username).first()


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def api_keys_of(account: Account) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(account=account).select_related("user")


def api_keys_visible_to(caller: AnyCaller) -> QuerySet[ApiKey]:
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
