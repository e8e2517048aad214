"""The base of every kind stored as one row per name in the caller's account.

The manifest's spec is the contract, the Django model is the storage, and the field mapping
between them is declared once: a section of the spec (`spec.config`, `spec.connection`, ...)
has fields of the model's names, in snake_case, so that the CamelModel alias generator is the
whole translation to the manifest's camelCase. From that:

- describe is the spec model built from the row (`spec_of`) and dumped by alias, so it shows
  exactly the fields the schema declares, in its order;
- apply validates the manifest, resolves the names it gives (a Secret, a connection) to rows of
  the caller's account, and hands the fields to the app's services (`writes`);
- `get` lists the rows through the kind's `columns`.

Two conventions bridge the model and the spec without a line per field: another resource is
named in the spec and held as a foreign key by the model (describe shows its name, the kind
resolves the name on apply), and an optional spec field is `None` where the model keeps an
empty string.

Adding a kind (the coming `KnowledgeBase`, `TestSuite` and `Channel` do this):

1. the model, with `name` unique per account, and its services `<noun>_create(*, account,
   name, **fields)`, `<noun>_update(*, <noun>, **fields) -> bool` (changed or not: re-applying
   the same manifest writes nothing) and `<noun>_delete(*, <noun>)`;
2. the spec in `<app>/manifests.py`: a `CamelModel` section whose field names are the model's,
   with the validation and the descriptions the JSON Schema shows, and the `Manifest` subclass
   with `kind: Literal["<Kind>"]`;
3. the broker: `class KnowledgeBaseBroker(ModelBroker[KnowledgeBase])` (the model is the type
   parameter) with `kind`, `manifest_model`, `section` (the spec's attribute holding the model's fields),
   `columns`, `writes = RowServices(services, "knowledge_base")`,
   `rows(caller)` (the account's rows, from a selector), and where the kind needs them:
   `fields_of` (resolve the names a manifest gives, refuse at a field path), `status_of`,
   `authorize_write` / `authorize_delete` (a rule beyond `write_role`; a kind that sends a
   Secret somewhere mixes in `smarter.apps.account.secret_policy.SecretBindingRule`);
4. `examples/<Kind>.yaml` next to the broker's module: a manifest that applies as is to a fresh
   account (a test applies every kind's example);
5. register the broker in the app's `register_kinds()` and put the kind in `APPLY_ORDER` after
   the kinds it names.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar, get_args

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet

from smarter.lib.manifests.broker import ApplyAction, ApplyOutcome, Broker, Caller, plain
from smarter.lib.manifests.envelope import CamelModel

Row = TypeVar("Row", bound=models.Model)

# The metadata a model may keep, and what describe shows for a model that does not.
_METADATA: tuple[tuple[str, Any], ...] = (("description", ""), ("version", "0.1.0"), ("tags", []), ("annotations", []))


@dataclass(frozen=True)
class RowServices:
    """The services that write a kind, in its app's `services` module: `<noun>_create(*, account,
    name, **fields)`, `<noun>_update(*, <row>, **fields) -> bool` (whether anything changed) and
    `<noun>_delete(*, <row>)`, where `<row>` is their keyword for the row (default: the noun).
    `verbs` names them otherwise. They are looked up when called, as a call written out would be."""

    module: ModuleType
    noun: str
    row: str = ""
    verbs: tuple[str, str, str] = ("create", "update", "delete")

    def create(self, **arguments: Any) -> Any:
        return self._service(0)(**arguments)

    def update(self, row: Any, **fields: Any) -> bool:
        return bool(self._service(1)(**{self.row or self.noun: row}, **fields))

    def delete(self, row: Any) -> None:
        self._service(2)(**{self.row or self.noun: row})

    def _service(self, index: int) -> Callable[..., Any]:
        service: Callable[..., Any] = getattr(self.module, f"{self.noun}_{self.verbs[index]}")
        return service


@dataclass
class Written(Generic[Row]):
    """What a write did, to which row, and what the answer adds to the manifest (a key shown once)."""

    action: ApplyAction
    row: Row
    extra: dict[str, Any] = field(default_factory=dict)


class ModelBroker(Broker, Generic[Row]):
    """A kind stored as one row per name in the caller's account (see the module's docstring)."""

    # The model, from the type parameter: `class SecretBroker(ModelBroker[Secret])`.
    model: ClassVar[type[models.Model]]
    section: ClassVar[str] = "config"
    writes: ClassVar[RowServices]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            for argument in get_args(base):
                if isinstance(argument, type) and issubclass(argument, models.Model):
                    cls.model = argument

    # --- reads ----------------------------------------------------------------------------------
    def rows(self, caller: Caller) -> QuerySet[Row]:
        """Every row the caller may see, from the app's selector (scoped by the account)."""
        raise NotImplementedError

    def find(self, caller: Caller, name: str) -> Row | None:
        return self.rows(caller).filter(name=name).first()

    def row(self, caller: Caller, name: str) -> Row:
        """The caller's row of that name, else a 404 (another account's row is never found)."""
        found = self.find(caller, name)
        if found is None:
            raise self.not_found(name)
        return found

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [self.item(row) for row in self.rows(caller)]

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self.manifest_of(self.row(caller, name))

    def manifest_of(self, row: Row) -> dict[str, Any]:
        """The resource as describe shows it."""
        return self.envelope(self.metadata_of(row), self.spec_of(row), self.status_of(row))

    def name_of(self, row: Row) -> str:
        return str(row.name)  # type: ignore[attr-defined]

    def metadata_of(self, row: Row) -> dict[str, Any]:
        kept = {key: getattr(row, key) if hasattr(row, key) else copy.copy(default) for key, default in _METADATA}
        return {"name": self.name_of(row), **kept}

    def spec_of(self, row: Row) -> dict[str, Any]:
        """The spec model built from the row, dumped as the manifest shows it."""
        spec_model = self.manifest_model.model_fields["spec"].annotation
        spec = spec_model.model_construct(**self.spec_values(row))  # type: ignore[union-attr]
        return dict(spec.model_dump(by_alias=True, mode="json"))

    def spec_values(self, row: Row) -> dict[str, Any]:
        """The spec's fields from the row: by default its section, read by field name."""
        return {self.section: self.section_from(self._section_model(), row)}

    def section_from(self, section: type[CamelModel], *sources: Any) -> CamelModel:
        """A section of the spec read from the row (and further objects, for the fields the first
        lacks), without validating again what was validated when it was applied."""
        values = {}
        for name, spec_field in section.model_fields.items():
            if spec_field.exclude:
                continue  # write-only (a Secret's value): never shown
            source = next((source for source in sources if hasattr(source, name)), None)
            if source is None:
                raise AttributeError(f"{section.__name__}.{name} is a field of no row it is read from")
            value = plain(getattr(source, name))
            if value == "" and not spec_field.is_required() and spec_field.default is None:
                value = None
            values[name] = value
        return section.model_construct(**values)

    def status_of(self, row: Row) -> dict[str, Any]:
        return {}

    # --- writes ---------------------------------------------------------------------------------
    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        name = manifest.metadata.name
        row = self.find(caller, name)
        fields = self.fields_of(caller, manifest, row)
        self.authorize_write(caller, name, row, fields)
        written = self.write(caller, name, row, fields)
        return ApplyOutcome(written.action, self.manifest_of(written.row), extra=written.extra)

    def fields_of(self, caller: Caller, manifest: Any, row: Row | None) -> dict[str, Any]:
        """What the services take, from a validated manifest: the metadata the model keeps and
        the spec's section. A kind resolves here the names its manifest gives, and refuses
        (400, at the field path) what validation alone cannot see."""
        return {**self.metadata_fields(manifest), **self.section_fields(getattr(manifest.spec, self.section))}

    def metadata_fields(self, manifest: Any) -> dict[str, Any]:
        return {key: getattr(manifest.metadata, key) for key, _ in _METADATA if self._stores(key)}

    def section_fields(self, section: CamelModel) -> dict[str, Any]:
        """A section's fields by the model's names; `None` is an empty string where the model
        keeps one."""
        values = {}
        for name in type(section).model_fields:
            value = getattr(section, name)
            if value is None and self._blank_when_unset(name):
                value = ""
            values[name] = value
        return values

    def authorize_write(self, caller: Caller, name: str, row: Row | None, fields: dict[str, Any]) -> None:
        """A rule beyond `write_role` on what would be written (`row` None: created)."""

    def write(self, caller: Caller, name: str, row: Row | None, fields: dict[str, Any]) -> Written[Row]:
        if row is None:
            return Written("created", self.create(caller, name, fields))
        return Written("updated" if self.update(row, fields) else "unchanged", row)

    def create(self, caller: Caller, name: str, fields: dict[str, Any]) -> Row:
        return self.writes.create(account=caller.account, name=name, **fields)

    def update(self, row: Row, fields: dict[str, Any]) -> bool:
        return self.writes.update(row, **fields)

    def delete(self, caller: Caller, name: str) -> None:
        row = self.row(caller, name)
        self.check_can_write(caller)
        self.authorize_delete(caller, row)
        self.writes.delete(row)

    def authorize_delete(self, caller: Caller, row: Row) -> None:
        """A rule beyond `write_role` on deleting this row."""

    # --- the model ------------------------------------------------------------------------------
    def _section_model(self) -> type[CamelModel]:
        spec_model = self.manifest_model.model_fields["spec"].annotation
        return spec_model.model_fields[self.section].annotation  # type: ignore[union-attr]

    def _stores(self, name: str) -> bool:
        try:
            self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return True

    def _blank_when_unset(self, name: str) -> bool:
        try:
            model_field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return isinstance(model_field, models.CharField | models.TextField) and not model_field.null
