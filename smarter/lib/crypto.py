"""Secrets at rest (Fernet with a rotating key list) and API key hashing.

Secrets use a key list separate from Django's SECRET_KEY, so rotating one never touches the
other. API keys are long random strings, so a fast hash (SHA-256) is as strong as a slow
password hasher and costs microseconds instead of ~200 ms per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

API_KEY_PREFIX = "smarter"
_PREFIX_ID_LENGTH = 8
_SECRET_BYTES = 32


class SecretDecryptionError(Exception):
    """A stored value cannot be decrypted by any configured key (a key was removed too early)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str, keys: list[str]) -> str:
    return _fernet(tuple(keys)).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str, keys: list[str]) -> str:
    try:
        return _fernet(tuple(keys)).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as error:
        raise SecretDecryptionError("no configured Fernet key decrypts this value") from error


def reencrypt(token: str, keys: list[str]) -> str:
    """Re-encrypt under the newest key (a no-op in meaning, a rotation in storage)."""
    try:
        return _fernet(tuple(keys)).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as error:
        raise SecretDecryptionError("no configured Fernet key decrypts this value") from error


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated key: `plaintext` is shown to its owner once and never stored."""

    plaintext: str
    prefix: str
    digest: str


def generate_api_key() -> NewApiKey:
    """`smarter_<8 chars id>_<43 chars secret>`: the id is stored for lookup and display."""
    prefix = secrets.token_hex(_PREFIX_ID_LENGTH // 2)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, digest=hash_api_key(plaintext))


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def api_key_prefix(plaintext: str) -> str | None:
    """The lookup id of a presented key, or None when it is not shaped like one of ours."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != _PREFIX_ID_LENGTH:
        return None
    if not all(c in "0123456789abcdef" for c in parts[1]) or len(parts[2]) < 20:
        return None
    return parts[1]


def digests_match(presented_plaintext: str, stored_digest: str) -> bool:
    return hmac.compare_digest(hash_api_key(presented_plaintext), stored_digest)
