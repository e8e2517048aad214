"""Brokers and their registry: each app registers its kinds; the cli endpoints dispatch here.

A broker turns a validated manifest into calls on its app's services and selectors. It knows
no HTTP: the door authenticates, parses and journals; the broker decides and raises
`smarter.lib.errors` exceptions that the door renders. A kind stored as one row per name in the
caller's account is a `smarter.lib.manifests.model_broker.ModelBroker`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import yaml
from django.apps import apps
from django.db import models
from pydantic import ValidationError
from pydantic.alias_generators import to_snake

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
    """One column of `get`'s table: `titles` lists them, each item has a value per name.

    The value is read from the row at `source`: a dotted attribute path (default: the column's
    name in snake_case) or a function of the row. A date is given in ISO 8601, a row another
    resource by its name. `listed=False`: a value each item carries that the table does not show.
    """

    name: str
    type: str = "string"
    source: str | Callable[[Any], Any] | None = field(default=None, compare=False)
    listed: bool = True

    def value(self, row: Any) -> Any:
        if callable(self.source):
            value = self.source(row)
        else:
            value = row
            for attribute in (self.source or to_snake(self.name)).split("."):
                value = getattr(value, attribute)
        return plain(value)


def iso(value: date | None) -> str | None:
    """A date or a datetime in ISO 8601 (None stays None)."""
    return value.isoformat() if value is not None else None


def plain(value: Any) -> Any:
    """A value as a manifest shows it: dates in ISO 8601, another resource by its name."""
    if isinstance(value, date):  # datetimes too
        return iso(value)
    if isinstance(value, models.Model):
        return value.name  # type: ignore[attr-defined]
    return value


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

    def item(self, row: Any) -> dict[str, Any]:
        """One resource as `get` lists it: a value for every column."""
        return {column.name: column.value(row) for column in self.columns}

    @abstractmethod
    def describe(self, caller: Caller, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def delete(self, caller: Caller, name: str) -> None: ...

    def example(self) -> dict[str, Any]:
        """A manifest that applies as is to an account holding the examples of the kinds it names:
        `examples/<Kind>.yaml` in the broker's app."""
        return dict(yaml.safe_load(_example_text(type(self).__module__, self.kind)))

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
            metadata = document.get("metadata")
            raise self.invalid(
                metadata.get("name") if isinstance(metadata, dict) else None, self.problems(error)
            ) from None

    def problems(self, error: ValidationError) -> list[FieldError]:
        """Pydantic's errors at their field paths, in the words this kind's errors use."""
        return field_errors(error)

    def invalid(self, name: str | None, problems: list[FieldError]) -> ValidationFailed:
        """The 400 of a manifest whose fields are wrong, each at its field path."""
        return ValidationFailed(
            f"The {self.kind} manifest is invalid; fix the fields listed in errors.",
            context={"kind": self.kind, "name": name},
            errors=problems,
        )

    def get(self, caller: Caller, name: str | None = None) -> dict[str, Any]:
        items = self.list_items(caller)
        if name is not None:
            items = [item for item in items if item.get("name") == name]
            if not items:
                raise self.not_found(name)
        return {"titles": self.titles(), "items": items}

    def titles(self) -> list[dict[str, str]]:
        return [{"name": column.name, "type": column.type} for column in self.columns if column.listed]

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


@functools.cache
def _example_text(module: str, kind: str) -> str:
    app = apps.get_containing_app_config(module)
    if app is None:
        raise LookupError(f"{module} is in no installed app")
    return (Path(app.path) / "examples" / f"{kind}.yaml").read_text(encoding="utf-8")


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
    "KnowledgeBase",
    "SqlConnection",
    "ApiConnection",
    "Plugin",
    "SqlPlugin",
    "ApiPlugin",
    "KnowledgePlugin",
    "Chatbot",
    "TestSuite",
    "Channel",
)


def apply_rank(kind: str) -> int:
    """Where a kind goes in APPLY_ORDER; unknown kinds go last."""
    lowered = {name.lower(): index for index, name in enumerate(APPLY_ORDER)}
    return lowered.get(kind.lower(), len(APPLY_ORDER))
