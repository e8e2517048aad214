"""Every write of the account app: one keyword-only function per use case."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.text import slugify

from smarter.apps.account.models import Account, ApiKey, JournalEntry, Membership, Role, Secret
from smarter.lib import crypto
from smarter.lib.errors import Conflict, ValidationFailed

logger = logging.getLogger(__name__)

# lastUsedAt is written at most this often per key: a write per request would cost more than
# the whole authentication.
LAST_USED_RESOLUTION = timedelta(seconds=60)

PROFILE_FIELDS = (
    "company_name",
    "phone_number",
    "address1",
    "address2",
    "city",
    "state",
    "postal_code",
    "country",
    "language",
    "timezone",
    "currency",
)


# --- accounts ---------------------------------------------------------------------------------
def _new_account_number() -> str:
    while True:
        digits = f"{secrets.randbelow(10**12):012d}"
        number = f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"
        if not Account.objects.filter(account_number=number).exists():
            return number


def _free_account_name(company_name: str) -> str:
    base = (slugify(company_name).replace("-", "_") or "account")[:40].strip("_") or "account"
    if not base[0].isalpha():
        base = f"a_{base}"[:40]
    name, suffix = base, 2
    while Account.objects.filter(name=name).exists():
        name, suffix = f"{base}_{suffix}", suffix + 1
    return name


def account_create(*, company_name: str, name: str | None = None, **profile: Any) -> Account:
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"unknown account fields: {sorted(unknown)}")
    if name and Account.objects.filter(name=name).exists():
        raise Conflict(f"An account named {name!r} already exists.", context={"kind": "Account", "name": name})
    return Account.objects.create(
        name=name or _free_account_name(company_name),
        account_number=_new_account_number(),
        company_name=company_name,
        **profile,
    )


def account_update(*, account: Account, **profile: Any) -> bool:
    """Set the company profile; returns whether anything changed (nothing is written if not)."""
    changed = [field for field, value in profile.items() if getattr(account, field) != value]
    for field in changed:
        setattr(account, field, profile[field])
    if changed:
        account.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def account_set_identity(*, account: Account, name: str, is_active: bool) -> None:
    """Rename or (de)activate a tenant: the platform operator's admin-site change."""
    account.name, account.is_active = name, is_active
    account.save(update_fields=["name", "is_active", "updated_at"])


def account_delete(*, account: Account) -> None:
    account.delete()


# --- people -----------------------------------------------------------------------------------
def member_add(
    *,
    account: Account,
    username: str,
    email: str = "",
    role: str = Role.MEMBER,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    is_active: bool = True,
) -> Membership:
    """Create the user and make them a member of `account`.

    Usernames are global (they sign in to the console), so a name can be in use by someone of
    another account. The refusal is the same sentence whoever has it, in whatever account or
    none, active or not: it never says whose, nor in which account.
    """
    unavailable = Conflict(
        f"The username {username!r} is not available; choose another.", context={"kind": "User", "name": username}
    )
    if User.objects.filter(username=username).exists():
        raise unavailable
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_active=is_active,
            )
    except IntegrityError:  # taken between the check and the write, or by a case-insensitive twin
        raise unavailable from None
    return Membership.objects.create(account=account, user=user, role=role)


def member_update(*, membership: Membership, role: str | None = None, **user_fields: Any) -> bool:
    """Change a member's role and name fields; refuses to leave the account without an admin."""
    changed = False
    if role is not None and role != membership.role:
        if membership.role == Role.ADMIN:
            _ensure_another_admin(membership)
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        changed = True
    user = membership.user
    user_changes = [field for field, value in user_fields.items() if getattr(user, field) != value]
    for field in user_changes:
        setattr(user, field, user_fields[field])
    if user_changes:
        user.save(update_fields=user_changes)
    return changed or bool(user_changes)


def user_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def member_remove(*, membership: Membership) -> None:
    """Take a user out of an account; their keys in it stop working with them."""
    if membership.role == Role.ADMIN:
        _ensure_another_admin(membership)
    for key in ApiKey.objects.filter(account_id=membership.account_id, user_id=membership.user_id):
        api_key_delete(api_key=key)
    user = membership.user
    membership.delete()
    if not user.memberships.exists() and not user.is_superuser:
        user.delete()


def _ensure_another_admin(membership: Membership) -> None:
    others = Membership.objects.filter(account_id=membership.account_id, role=Role.ADMIN).exclude(pk=membership.pk)
    if not others.exists():
        raise Conflict(
            "An account must keep at least one admin; make another member admin first.",
            context={"kind": "User", "name": membership.user.get_username()},
        )


# --- API keys ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedApiKey:
    """A created key and its plaintext, which exists only in this object and the response."""

    api_key: ApiKey
    plaintext: str


def api_key_create(
    *,
    account: Account,
    user: User,
    name: str,
    description: str = "",
    expires_at: datetime | None = None,
) -> IssuedApiKey:
    if not Membership.objects.filter(account=account, user_id=user.pk).exists():
        raise ValidationFailed(f"{user.get_username()!r} is not a member of this account.")
    generated = crypto.generate_api_key()
    try:
        with transaction.atomic():
            key = ApiKey.objects.create(
                account=account,
                user=user,
                name=name,
                description=description,
                prefix=generated.prefix,
                digest=generated.digest,
                expires_at=expires_at,
            )
    except IntegrityError:
        raise Conflict(f"An API key named {name!r} already exists.", context={"kind": "ApiKey", "name": name}) from None
    return IssuedApiKey(api_key=key, plaintext=generated.plaintext)


def api_key_update(*, api_key: ApiKey, description: str, expires_at: datetime | None) -> bool:
    changed = [
        field
        for field, value in (("description", description), ("expires_at", expires_at))
        if getattr(api_key, field) != value
    ]
    for field, value in (("description", description), ("expires_at", expires_at)):
        setattr(api_key, field, value)
    if changed:
        api_key.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revocation is final and immediate; returns False when the key was already revoked."""
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), updated_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at", "updated_at"])
    return bool(updated)


def api_key_delete(*, api_key: ApiKey) -> None:
    """Refused with 409 while a chatbot requires the key (deleting it would open the chatbot)."""
    _delete_unless_used(api_key, "ApiKey")


def _delete_unless_used(instance: ApiKey | Secret, kind: str) -> None:
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as error:
        # RESTRICT (not PROTECT) on the users' side: deleting a whole account still cascades.
        blocking = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
        users = sorted({f"{type(obj).__name__} {getattr(obj, 'name', obj.pk)}" for obj in blocking})
        raise Conflict(
            f"{kind} {instance.name!r} is in use by {', '.join(users)}; change or delete those first.",
            context={"kind": kind, "name": instance.name, "usedBy": users},
        ) from None


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once per LAST_USED_RESOLUTION, with one conditional UPDATE."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(last_used_at=now)


# --- secrets ----------------------------------------------------------------------------------
def _fernet_keys() -> list[str]:
    return list(settings.SMARTER.fernet_key_list)


def secret_create(
    *,
    account: Account,
    name: str,
    value: str,
    description: str = "",
    version: str = "0.1.0",
    expires_at: date | None = None,
    tags: list[str] | None = None,
    annotations: list[dict[str, str]] | None = None,
) -> Secret:
    try:
        with transaction.atomic():
            return Secret.objects.create(
                account=account,
                name=name,
                description=description,
                version=version,
                expires_at=expires_at,
                tags=tags or [],
                annotations=annotations or [],
                encrypted_value=crypto.encrypt(value, _fernet_keys()),
            )
    except IntegrityError:
        raise Conflict(f"A secret named {name!r} already exists.", context={"kind": "Secret", "name": name}) from None


def secret_update(
    *,
    secret: Secret,
    value: str | None,
    description: str,
    version: str,
    expires_at: date | None,
    tags: list[str] | None = None,
    annotations: list[dict[str, str]] | None = None,
) -> bool:
    """Update what differs. The value is re-encrypted only when it really changed, so applying
    the same manifest twice leaves the row untouched. `tags` and `annotations` None (the console,
    which does not show them) keep the stored ones."""
    fields: dict[str, Any] = {"description": description, "version": version, "expires_at": expires_at}
    if tags is not None:
        fields["tags"] = tags
    if annotations is not None:
        fields["annotations"] = annotations
    changed = [field for field, new in fields.items() if getattr(secret, field) != new]
    for field, new in fields.items():
        setattr(secret, field, new)
    if value is not None and value != crypto.decrypt(secret.encrypted_value, _fernet_keys()):
        secret.encrypted_value = crypto.encrypt(value, _fernet_keys())
        changed.append("encrypted_value")
    if changed:
        secret.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


# How stale a secret's `last_accessed_at` may be: stamping it on every use was a write per chat
# turn on an account's own provider.
ACCESS_STAMP_SECONDS = 60


def secret_reveal(*, secret: Secret) -> str:
    """The plaintext, for the code that uses it (a connection, a provider) — never for a client.
    Decrypted from the row as read now (nothing decrypted is kept); its use is stamped at most
    once a minute."""
    now = timezone.now()
    last = secret.last_accessed_at
    if last is None or (now - last).total_seconds() >= ACCESS_STAMP_SECONDS:
        Secret.objects.filter(pk=secret.pk).update(last_accessed_at=now)
        secret.last_accessed_at = now
    return crypto.decrypt(secret.encrypted_value, _fernet_keys())


def secret_delete(*, secret: Secret) -> None:
    """Refused with 409 while anything (a connection, a provider) still uses the secret."""
    _delete_unless_used(secret, "Secret")


def secrets_reencrypt() -> int:
    """Re-encrypt every secret under the newest Fernet key (after adding a key at the front)."""
    count = 0
    keys = _fernet_keys()
    for secret in Secret.objects.only("pk", "encrypted_value").iterator():
        rotated = crypto.reencrypt(secret.encrypted_value, keys)
        Secret.objects.filter(pk=secret.pk).update(encrypted_value=rotated)
        count += 1
    return count


# --- onboarding -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnboardedAccount:
    account: Account
    user: User
    api_key: IssuedApiKey


@transaction.atomic
def account_onboard(
    *,
    company_name: str,
    username: str,
    email: str,
    password: str | None = None,
    platform_admin: bool = False,
    key_name: str = "default",
) -> OnboardedAccount:
    """A new tenant with its first user (an account admin) and a first API key."""
    account = account_create(company_name=company_name)
    membership = member_add(account=account, username=username, email=email, role=Role.ADMIN, password=password)
    user = membership.user
    if platform_admin:
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    issued = api_key_create(account=account, user=user, name=key_name)
    return OnboardedAccount(account=account, user=user, api_key=issued)


# --- journal ----------------------------------------------------------------------------------
def journal_record(
    *,
    key: str,
    account: Account | None,
    user: User | None,
    api_key: ApiKey | None,
    command: str,
    kind: str,
    name: str,
    status_code: int,
    duration_ms: float,
    request_id: str,
) -> JournalEntry | None:
    """Write one journal row. A failure here is logged and swallowed: the journal must never
    turn a successful command into an error for the user."""
    if api_key is not None and not ApiKey.objects.filter(pk=api_key.pk).exists():
        # The command deleted the very key it was called with: the entry stays, who ran it
        # included (the user); only the link to the key is gone, as for any deleted key.
        api_key = None
    try:
        with transaction.atomic():  # a failed write must not spoil a transaction around it
            return JournalEntry.objects.create(
                key=key,
                account=account,
                user=user if user is not None and user.pk else None,
                api_key=api_key,
                command=command,
                kind=kind[:50],
                name=name[:255],
                status_code=status_code,
                duration_ms=round(duration_ms, 3),
                request_id=request_id[:64],
            )
    except Exception:
        logger.exception("journal write failed", extra={"command": command, "kind": kind})
        return None
