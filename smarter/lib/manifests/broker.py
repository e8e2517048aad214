"""Brokers and their registry: each app registers its kinds; the cli endpoints dispatch here.

A broker turns a validated manifest into calls on its app's services and selectors. It knows
no HTTP: the door authenticates, parses and journals; the broker decides and raises
`smarter.lib.errors` exceptions that the door renders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import ValidationError

from smarter.lib.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from smarter.lib.manifests.envelope import API_VERSION, Manifest, field_errors

Role = Literal["admin", "member"]
ApplyAction = Literal["created", "updated", "unchanged"]


class Caller(Protocol):
    """Who is asking: the account is the tenant every read and write is scoped to."""

    @property
    def account(self) -> Any: ...
    @property
    def user(self) -> Any: ...
    @property
    def is_admin(self) -> bool: ...
    @property
    def is_superuser(self) -> bool: ...


@dataclass(frozen=True)
class Column:
    """One column of `get`'s table: `titles` lists them, each item has a value per name."""

    name: str
    type: str = "string"


@dataclass
class ApplyOutcome:
    """What apply did: `created`, `updated` or `unchanged`, and the resource as describe shows it."""

    action: ApplyAction
    manifest: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        return {"applied": self.action, **self.extra, "manifest": self.manifest}


class Broker(ABC):
    kind: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    manifest_model: ClassVar[type[Manifest]]
    columns: ClassVar[tuple[Column, ...]] = (Column("name"), Column("description"))
    # Who may apply and delete: account admins only, or any member of the account.
    write_role: ClassVar[Role] = "admin"
    # Read-only kinds (chat history) are recorded by the platform, never applied.
    read_only: ClassVar[bool] = False

    # --- the verbs ------------------------------------------------------------------------
    @abstractmethod
    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome: ...

    @abstractmethod
    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        """One flat dict per resource the caller may see, with a value for every column."""

    @abstractmethod
    def describe(self, caller: Caller, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def delete(self, caller: Caller, name: str) -> None: ...

    @abstractmethod
    def example(self) -> dict[str, Any]:
        """A manifest that applies as is to a fresh account."""

    # --- shared behaviour -------------------------------------------------------------------
    def check_can_write(self, caller: Caller) -> None:
        if self.write_role == "admin" and not caller.is_admin:
            raise PermissionDenied(
                f"Only an account admin may change {self.kind} resources.",
                context={"kind": self.kind},
            )

    def validate(self, document: dict[str, Any]) -> Manifest:
        try:
            return self.manifest_model.model_validate({**document, "kind": self.kind})
        except ValidationError as error:
            name = document.get("metadata", {}).get("name") if isinstance(document.get("metadata"), dict) else None
            raise ValidationFailed(
                f"The {self.kind} manifest is invalid; fix the fields listed in errors.",
                context={"kind": self.kind, "name": name},
                errors=field_errors(error),
            ) from None

    def get(self, caller: Caller, name: str | None = None) -> dict[str, Any]:
        items = self.list_items(caller)
        if name is not None:
            items = [item for item in items if item.get("name") == name]
            if not items:
                raise self.not_found(name)
        return {
            "titles": [{"name": column.name, "type": column.type} for column in self.columns],
            "items": items,
        }

    def schema(self) -> dict[str, Any]:
        schema = self.manifest_model.model_json_schema(by_alias=True)
        schema["title"] = self.kind
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return schema

    def not_found(self, name: str) -> NotFound:
        return NotFound(
            f"{self.kind} {name!r} was not found in your account.", context={"kind": self.kind, "name": name}
        )

    def envelope(self, metadata: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }


_REGISTRY: dict[str, Broker] = {}
_KINDS: dict[str, Broker] = {}


def _words_for(kind: str) -> set[str]:
    word = kind.lower()
    plural = word[:-1] + "ies" if word.endswith("y") and not word.endswith("ey") else word + "s"
    return {word, plural}


def register(broker: Broker) -> Broker:
    """Make a broker reachable by its kind, its aliases and their plurals, case-insensitively."""
    _KINDS[broker.kind] = broker
    for name in (broker.kind, *broker.aliases):
        for word in _words_for(name):
            existing = _REGISTRY.get(word)
            if existing is not None and existing is not broker and existing.kind != broker.kind:
                raise RuntimeError(f"{word!r} names both {existing.kind} and {broker.kind}")
            _REGISTRY[word] = broker
    return broker


def broker_for(kind_word: str) -> Broker:
    broker = _REGISTRY.get(kind_word.strip().lower())
    if broker is None:
        raise ValidationFailed(
            f"Unknown kind {kind_word!r}. Known kinds: {', '.join(sorted(_KINDS))}.",
            context={"kind": kind_word},
            errors=[FieldError(loc="kind", msg=f"must be one of {', '.join(sorted(_KINDS))}")],
        )
    return broker


def registered_brokers() -> list[Broker]:
    return [_KINDS[kind] for kind in sorted(_KINDS)]


# The order in which a set of manifests must be applied: each kind after the kinds it names.
APPLY_ORDER = (
    "Account",
    "User",
    "Secret",
    "ApiKey",
    "Provider",
    "SqlConnection",
    "ApiConnection",
    "Plugin",
    "SqlPlugin",
    "ApiPlugin",
    "Chatbot",
)


def apply_rank(kind: str) -> int:
    """Where a kind goes in APPLY_ORDER; unknown kinds go last."""
    lowered = {name.lower(): index for index, name in enumerate(APPLY_ORDER)}
    return lowered.get(kind.lower(), len(APPLY_ORDER))
