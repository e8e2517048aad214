"""Who may point a Secret somewhere: one rule for every kind that sends a Secret to a target.

A connection, a provider or a channel sends the Secret it names to its target (a base URL, a
database host, a messaging API). Whoever chooses that target can read the Secret there, so
choosing it is an account admin's decision:

- an admin may do anything;
- a member may create, change and delete resources that name no Secret;
- a member may change the other fields (description, timeout, ...) of a resource that names a
  Secret, and use it unchanged (attach it to plugins, test them, chat);
- a member may not name a Secret (create a resource with one, add one, swap one), remove one,
  change the target of a resource that names one, or delete such a resource.

A broker describes its kind with `BindingFields` (which fields name Secrets, which make up the
target) and calls `secret_binding_authorize` with the stored resource and the one it would write,
before it writes or deletes anything: a `ModelBroker` does so by mixing in `SecretBindingRule`.
A refusal is a 403 whose `errors` name the field only an admin may change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic.alias_generators import to_camel

from smarter.lib.errors import FieldError, PermissionDenied
from smarter.lib.manifests.broker import Caller


@dataclass(frozen=True)
class SecretBinding:
    """A resource as the rule sees it: the Secrets it names and where it sends them, each value
    keyed by its manifest path (`spec.connection.apiKey`)."""

    secrets: Mapping[str, Any]
    target: Mapping[str, Any]

    @property
    def names_a_secret(self) -> bool:
        return any(value is not None for value in self.secrets.values())


@dataclass(frozen=True)
class BindingFields:
    """Which fields of a kind name Secrets and which make up its target: each maps the model's
    attribute name to its manifest path."""

    secrets: Mapping[str, str]
    target: Mapping[str, str]

    @classmethod
    def of(cls, section: str, *, secrets: Iterable[str], target: Iterable[str]) -> BindingFields:
        """The fields of one section of the spec (`spec.connection`), by the model's names."""
        return cls(
            secrets={name: f"{section}.{to_camel(name)}" for name in secrets},
            target={name: f"{section}.{to_camel(name)}" for name in target},
        )

    def read(self, source: Any) -> SecretBinding | None:
        """The binding of a model instance or of a dict of its fields; None for None."""
        if source is None:
            return None

        def value(attribute: str) -> Any:
            return source.get(attribute) if isinstance(source, Mapping) else getattr(source, attribute)

        return SecretBinding(
            secrets={loc: _identity(value(attribute)) for attribute, loc in self.secrets.items()},
            target={loc: value(attribute) for attribute, loc in self.target.items()},
        )


def _identity(secret: Any) -> Any:
    """A Secret compares by its row, whichever object carries it."""
    return getattr(secret, "pk", secret) if secret is not None else None


def secret_binding_authorize(
    *, caller: Caller, kind: str, name: str, before: SecretBinding | None, after: SecretBinding | None
) -> None:
    """Refuse (403) a member's write that would name a Secret, or move or drop one.

    `before` is the stored resource (None when creating), `after` the resource as it would be
    written (None when deleting).
    """
    if caller.is_admin:
        return
    named_before = before is not None and before.names_a_secret
    named_after = after is not None and after.names_a_secret
    if not (named_before or named_after):
        return
    context = {"kind": kind, "name": name}
    if after is None:
        raise PermissionDenied(f"Only an account admin may delete {kind} {name!r}: it uses a Secret.", context=context)
    if before is None:
        loc = next(loc for loc, value in after.secrets.items() if value is not None)
        raise PermissionDenied(
            f"Only an account admin may create {kind} {name!r}: it names a Secret. Create it without one, "
            "or ask an admin.",
            context=context,
            errors=[FieldError(loc, "only an account admin may name a Secret")],
        )
    for loc, value in after.secrets.items():
        if value != before.secrets.get(loc):
            raise PermissionDenied(
                f"Only an account admin may change which Secret {kind} {name!r} uses.",
                context=context,
                errors=[FieldError(loc, "only an account admin may name, change or remove a Secret")],
            )
    for loc, value in after.target.items():
        if value != before.target.get(loc):
            raise PermissionDenied(
                f"Only an account admin may change where {kind} {name!r} sends its Secret.",
                context=context,
                errors=[
                    FieldError(loc, "only an account admin may change the target of a resource that uses a Secret")
                ],
            )


class SecretBindingRule:
    """The rule for a `ModelBroker` whose kind sends the Secrets it names to a target: mixed in
    before the base, it checks every write and delete against `binding`."""

    kind: ClassVar[str]
    binding: ClassVar[BindingFields]

    def authorize_write(self, caller: Caller, name: str, row: Any, fields: dict[str, Any]) -> None:
        before, after = self.binding.read(row), self.binding.read(fields)
        secret_binding_authorize(caller=caller, kind=self.kind, name=name, before=before, after=after)

    def authorize_delete(self, caller: Caller, row: Any) -> None:
        before = self.binding.read(row)
        secret_binding_authorize(caller=caller, kind=self.kind, name=row.name, before=before, after=None)
