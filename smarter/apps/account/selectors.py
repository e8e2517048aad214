"""Reads of the account app. Every selector takes the account and scopes by it."""

from __future__ import annotations

from functools import lru_cache

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
        cursor.execute(_key_lookup_sql(), {"prefix": prefix})
        found = prepared.NamedRows(cursor)
    if not found.rows:
        return None
    row = found.rows[0]
    return caller_of_key(
        plaintext,
        key=found.hydrate_named(ApiKey, row, "k"),
        account=found.hydrate_named(Account, row, "a"),
        user=found.hydrate_named(User, row, "u"),
        role=found.value(row, "member.role"),
    )


# Authentication runs on every API request, and compiling an ORM query costs more than running it
# (~1 ms against ~0.1 ms), so the lookup is SQL written once, its columns named from the models.
@lru_cache(maxsize=1)
def _key_lookup_sql() -> str:
    role = connection.ops.quote_name("member.role")
    return f"""
        SELECT {prepared.named_columns(ApiKey, "k")},
               {prepared.named_columns(Account, "a")},
               {prepared.named_columns(User, "u")},
               m.role AS {role}
          FROM account_apikey k
          JOIN account_account a ON a.id = k.account_id
          JOIN auth_user u ON u.id = k.user_id
          LEFT JOIN account_membership m ON m.account_id = k.account_id AND m.user_id = k.user_id
         WHERE k.prefix = %(prefix)s
    """  # noqa: S608  (identifiers only; the prefix is a bound parameter)


def caller_of_key(plaintext: str, *, key: ApiKey, account: Account, user: User, role: str | None) -> Caller | None:
    """The caller of a key row read with its account, user and the user's role in the account
    (None: no membership), if `plaintext` is that key (constant-time comparison) and the key,
    its user, account and membership are all usable."""
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
