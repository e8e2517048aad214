"""The console's resource forms: a kind's fields described once, rendered, read back into its
manifest, and the broker's errors put back at the fields they name.

A form never writes a model. It edits a manifest document: the resource as describe shows it
(or a new document), with only the fields the form shows replaced by what was posted, so a field
the form does not show keeps its value. The document then goes through the kind's broker, as
`POST /api/v1/cli/apply/` does (`smarter.apps.dashboard.services.resource_save`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smarter.apps.account.caller import Caller
from smarter.lib.errors import FieldError
from smarter.lib.manifests import API_VERSION

Choice = tuple[str, str]  # (value, label)
Choices = Callable[[Caller], list[Choice]]


class _Omit:
    """An empty input that leaves its field out of the manifest, so the field takes its default."""

    def __repr__(self) -> str:
        return "OMIT"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Omit:
        return self  # one marker, compared by identity


OMIT: Any = _Omit()
_MISSING: Any = object()


@dataclass(frozen=True)
class Field:
    """One input of a form: where its value goes in the manifest (`path`), how it is edited, and
    what an empty input means (`blank`: a value, or OMIT for the field's default).

    Widgets: text, textarea, code, number, checkbox, select, checkboxes (a list of names), lines
    (a list, one item per line), json (any JSON value), datalist (text with suggestions).
    `choices` are computed from the caller's account when the form is shown. `admin_only`: a
    member sees the value but cannot change it (the broker refuses it anyway). `when`: the field
    belongs in the manifest only while the value at another path is the one given.
    """

    path: str
    label: str
    widget: str = "text"
    help: str = ""
    choices: Choices | None = None
    blank: Any = ""
    initial: Any = None
    admin_only: bool = False
    when: tuple[str, str] | None = None
    group: str = ""

    @property
    def key(self) -> str:
        """The input's name: `name` for the resource's name (the journal reads it), else the path."""
        return "name" if self.path == "metadata.name" else self.path

    @property
    def id(self) -> str:
        return "f-" + self.path.replace(".", "-")


@dataclass(frozen=True)
class KindForm:
    """The form of one kind: its fields, and the spec a new resource starts from."""

    kind: str
    title: str
    fields: tuple[Field, ...]
    starter: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # e.g. a plugin's pluginClass
    intro: str = ""

    def new_document(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": {"name": "", **copy.deepcopy(dict(self.metadata))},
            "spec": copy.deepcopy(dict(self.starter)),
        }


@dataclass
class BoundField:
    """A field as a page shows it: its value, its choices, its errors and whether it is editable."""

    field: Field
    value: Any
    errors: list[FieldError]
    disabled: bool
    choices: list[tuple[str, str, bool]]  # value, label, selected

    @property
    def described_by(self) -> str:
        ids = []
        if self.errors:
            ids.append(f"e-{self.field.id}")
        if self.field.help:
            ids.append(f"h-{self.field.id}")
        return " ".join(ids)


# --- paths into a document --------------------------------------------------------------------
def value_at(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set_at(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = document
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _drop_at(document: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


# --- showing ----------------------------------------------------------------------------------
def shown(spec: Field, value: Any) -> Any:
    """A manifest value as its input shows it."""
    if value is _MISSING or value is None:
        value = spec.initial
    if spec.widget == "checkbox":
        return bool(value)
    if spec.widget == "checkboxes":
        return [str(item) for item in value or []]
    if spec.widget == "lines":
        return "\n".join(str(item) for item in value or [])
    if spec.widget == "json":
        return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


def bind(
    form: KindForm,
    caller: Caller,
    document: Mapping[str, Any],
    *,
    creating: bool,
    posted: Mapping[str, Any] | None = None,
    errors: list[FieldError] | None = None,
) -> tuple[list[BoundField], list[FieldError]]:
    """The form's fields with their values (as posted, else from the document) and errors; and
    the errors that belong to no field shown."""
    placed, unplaced = place_errors(form, errors or [])
    bound = []
    for spec in form.fields:
        value = shown(spec, value_at(document, spec.path))
        if posted is not None and _editable(spec, caller, creating) and spec.key in posted:
            value = _posted_display(spec, posted)
        options = spec.choices(caller) if spec.choices is not None else []
        if spec.widget == "select" and value not in [option for option, _ in options]:
            options = [*options, (value, value)]  # the stored value stays choosable, whatever it is
        if spec.widget == "checkboxes":
            known = [option for option, _ in options]
            options = [*options, *((item, item) for item in value if item not in known)]
        choices = [
            (option, label, option in value if spec.widget == "checkboxes" else option == value)
            for option, label in options
        ]
        disabled = not _editable(spec, caller, creating)
        bound.append(BoundField(spec, value, placed.get(spec.path, []), disabled, choices))
    return bound, unplaced


def _editable(spec: Field, caller: Caller, creating: bool) -> bool:
    if spec.path == "metadata.name":
        return creating  # a resource is renamed by creating another
    return caller.is_admin or not spec.admin_only


def _posted_display(spec: Field, posted: Mapping[str, Any]) -> Any:
    if spec.widget == "checkbox":
        return _getlist(posted, spec.key)[-1:] == ["true"]
    if spec.widget == "checkboxes":
        return [item for item in _getlist(posted, spec.key) if item]
    return str(posted.get(spec.key, "")).replace("\r\n", "\n")


def _getlist(posted: Mapping[str, Any], key: str) -> list[str]:
    getlist = getattr(posted, "getlist", None)
    if getlist is not None:
        return [str(item) for item in getlist(key)]
    value = posted.get(key)
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


# --- reading back -----------------------------------------------------------------------------
def document_from(
    form: KindForm, caller: Caller, base: Mapping[str, Any], posted: Mapping[str, Any], *, creating: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """The manifest the posted form states: `base` with each field shown replaced by its input
    (a field not posted keeps its value); and the inputs that are no value at all (bad JSON)."""
    document = copy.deepcopy(dict(base))
    document.pop("status", None)
    problems: list[FieldError] = []
    for spec in form.fields:
        if not _editable(spec, caller, creating) or spec.key not in posted:
            continue
        try:
            value = _parsed(spec, posted, value_at(document, spec.path))
        except ValueError as error:
            problems.append(FieldError(spec.path, str(error)))
            continue
        if value is OMIT:
            _drop_at(document, spec.path)
        else:
            _set_at(document, spec.path, value)
    for spec in form.fields:
        if spec.when is not None and value_at(document, spec.when[0]) != spec.when[1]:
            _drop_at(document, spec.path)
    return document, problems


def _parsed(spec: Field, posted: Mapping[str, Any], before: Any) -> Any:
    if spec.widget == "checkbox":
        return _getlist(posted, spec.key)[-1:] == ["true"]
    if spec.widget == "checkboxes":
        chosen = [item for item in _getlist(posted, spec.key) if item]
        kept = [item for item in (before if isinstance(before, list) else []) if item in chosen]
        return kept + [item for item in chosen if item not in kept]  # the order they had, then new ones
    raw = str(posted.get(spec.key, "")).replace("\r\n", "\n")
    if spec.widget == "lines":
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        return items if items else spec.blank
    if not raw.strip():
        return copy.deepcopy(spec.blank)
    if spec.widget == "json":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"must be JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if spec.widget == "number":
        return _number(raw.strip())
    return raw if spec.widget in ("textarea", "code") else raw.strip()


def _number(raw: str) -> Any:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            continue
    return raw  # the manifest's model says what is wrong with it, at its path


# --- errors at their fields -------------------------------------------------------------------
def place_errors(form: KindForm, errors: list[FieldError]) -> tuple[dict[str, list[FieldError]], list[FieldError]]:
    """Each error at the field its path names (or the nearest field above it, or the first field
    inside a section it names); the errors no field shows."""
    placed: dict[str, list[FieldError]] = {}
    unplaced = []
    for error in errors:
        spec = field_of(form, error.loc)
        if spec is None:
            unplaced.append(error)
        else:
            placed.setdefault(spec.path, []).append(error)
    return placed, unplaced


def field_of(form: KindForm, loc: str) -> Field | None:
    above = [spec for spec in form.fields if loc == spec.path or loc.startswith((spec.path + ".", spec.path + "["))]
    if above:
        return max(above, key=lambda spec: len(spec.path))
    return next((spec for spec in form.fields if spec.path.startswith(loc + ".")), None)
