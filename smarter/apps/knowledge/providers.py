"""Whether an account has a Provider of a given name, for a knowledge base's `spec.embedding`.

Providers live in the chatbot app, a floor above this one, so the knowledge app cannot read them;
the chatbot app registers the lookup at startup (`set_provider_lookup`). It answers only whether
the name exists in the account: validating a manifest must not reveal (nor stamp as used) the
Provider's key, which the embedder does when it embeds.
"""

from __future__ import annotations

from collections.abc import Callable

ProviderLookup = Callable[[int, str], bool]
_lookup: ProviderLookup | None = None


def set_provider_lookup(lookup: ProviderLookup | None) -> None:
    """Register `lookup(account_id, name)`: whether that account has a Provider named `name`."""
    global _lookup
    _lookup = lookup


def provider_exists(*, account_id: int, name: str) -> bool:
    """Whether the account has a Provider `name`; another account's Provider does not exist here."""
    return _lookup is not None and _lookup(account_id, name)
