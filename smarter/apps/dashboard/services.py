"""The console's writes. Each one goes through a manifest broker, so that validation, roles
and field paths are exactly the API's; nothing here writes a model itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction

from smarter.apps.account.caller import Caller
from smarter.lib.errors import FieldError, NotFound, SmarterError, ValidationFailed
from smarter.lib.manifests import ApplyOutcome, Preview, apply_preview, apply_rank, broker_for, load_manifest

# A line holding only `---` (optionally with a comment) starts a new YAML document.
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def chatbot_configure(*, caller: Caller, name: str, config: dict[str, Any]) -> ApplyOutcome:
    """Change some of `spec.config` of a chatbot (camelCase keys) and apply it through its broker.

    The chatbot's manifest as describe shows it is the starting point, so every other field
    (plugins, functions, metadata) is kept as it is.
    """
    broker = broker_for("Chatbot")
    document = broker.describe(caller, name)
    document.pop("status", None)
    document["spec"]["config"] = {**document["spec"]["config"], **config}
    return broker.apply(caller, broker.validate(document))


def chatbot_origin_allow(*, caller: Caller, name: str, origin: str, dry_run: bool = False) -> ApplyOutcome | Preview:
    """Add `origin` to a chatbot's `spec.config.allowedOrigins`, as applying its manifest with the
    origin added would (same validation, field paths and roles: only an admin changes origins).
    With `dry_run`, what the change would be; nothing is written."""
    broker = broker_for("Chatbot")
    document = broker.describe(caller, name)
    document.pop("status", None)
    config = document["spec"]["config"]
    config["allowedOrigins"] = [*config.get("allowedOrigins", []), origin.strip()]
    manifest = broker.validate(document)
    if dry_run:
        return apply_preview(broker, caller, manifest)
    return broker.apply(caller, manifest)


def manifest_apply(*, caller: Caller, text: str, kind: str | None = None, name: str | None = None) -> ApplyOutcome:
    """Apply one manifest typed in the console's editor. With `kind` and `name` (the resource
    being edited), the manifest must still name that resource."""
    document = load_manifest(text.encode())
    document_kind = str(document.get("kind") or "")
    if not document_kind:
        raise ValidationFailed("The manifest has no kind.", errors=[FieldError("kind", "field required")])
    broker = broker_for(document_kind)
    if kind is not None and broker.kind != broker_for(kind).kind:
        raise ValidationFailed(
            f"This editor changes a {kind}; use the Apply page for other kinds.",
            errors=[FieldError("kind", f"must be {kind}")],
        )
    manifest = broker.validate(document)
    if name is not None and manifest.metadata.name != name:
        raise ValidationFailed(
            f"This editor changes {name!r}; to create another resource use the Apply page.",
            errors=[FieldError("metadata.name", f"must be {name}")],
        )
    return broker.apply(caller, manifest)


@dataclass(frozen=True)
class FormSave:
    """What saving a console form did: applied (`outcome`), or nothing yet because the change
    takes something away and waits for the user's confirmation (`preview`)."""

    outcome: ApplyOutcome | None = None
    preview: Preview | None = None


def resource_save(
    *, caller: Caller, kind: str, document: dict[str, Any], name: str | None = None, confirmed: bool = False
) -> FormSave:
    """Create (`name` None) or change a resource of `kind` from the manifest a console form
    built, through the kind's broker exactly as the API's apply. A change that would take
    something away (undeploy, drop names from a list) is only previewed unless `confirmed`."""
    broker = broker_for(kind)
    if broker.kind != kind:
        raise NotFound(f"No kind named {kind!r}.", context={"kind": kind})
    manifest = broker.validate({**document, "kind": kind})
    given = manifest.metadata.name
    if name is None and _exists(broker, caller, given):
        raise ValidationFailed(
            f"A {kind} named {given!r} already exists; edit it instead.",
            context={"kind": kind, "name": given},
            errors=[FieldError("metadata.name", f"a {kind} named {given!r} already exists")],
        )
    if name is not None and given != name:
        raise ValidationFailed(
            f"This form changes {name!r}; to create another resource use New.",
            context={"kind": kind, "name": name},
            errors=[FieldError("metadata.name", f"must be {name}")],
        )
    if name is not None and not confirmed:
        preview = apply_preview(broker, caller, manifest)
        if preview.warnings:
            return FormSave(preview=preview)
    return FormSave(outcome=broker.apply(caller, manifest))


def _exists(broker: Any, caller: Caller, name: str) -> bool:
    try:
        broker.describe(caller, name)
    except NotFound:
        return False
    return True


def resource_delete(*, caller: Caller, kind: str, name: str) -> None:
    """Delete a resource through its broker, as the API's delete (roles and rules included)."""
    broker_for(kind).delete(caller, name)


def resource_manifest(*, caller: Caller, kind: str, name: str) -> dict[str, Any]:
    """The resource as describe shows it, status included. `kind` is spelled as manifests spell
    it (it comes from a console URL): another word is not found."""
    unknown = NotFound(f"No kind named {kind!r}.", context={"kind": kind})
    try:
        broker = broker_for(kind)
    except ValidationFailed:
        raise unknown from None
    if broker.kind != kind:
        raise unknown
    return broker.describe(caller, name)


@dataclass
class BatchLine:
    """What became of one manifest of a batch: its action, or the error and its field paths;
    previewed, the diff and what the change would take away."""

    position: int
    kind: str
    name: str
    action: str = ""
    error: str = ""
    errors: list[FieldError] = field(default_factory=list)
    diff: str = ""
    warnings: list[str] = field(default_factory=list)
    status: int = 200  # the HTTP status the API would have answered

    @property
    def ok(self) -> bool:
        return not self.error


def split_documents(text: str) -> list[str]:
    """The YAML documents of a multi-document text (or one JSON document), empty ones dropped."""
    text = text.replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF
    if text.lstrip().startswith(("{", "[")):
        return [text]
    return [chunk for chunk in _DOCUMENT_SEPARATOR.split(text) if chunk.strip() and _has_content(chunk)]


def _has_content(chunk: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in chunk.splitlines())


def manifests_apply(*, caller: Caller, texts: list[str]) -> list[BatchLine]:
    """Apply many manifests in dependency order (secrets before the connections that use them,
    plugins before the chatbots that attach them). Each is applied on its own: one failing
    manifest does not stop the others, and its line says why it failed."""
    ordered = _parsed_in_order(texts)
    for line, document in ordered:
        if document is None:
            continue
        try:
            broker = broker_for(line.kind)
            line.kind = broker.kind
            outcome = broker.apply(caller, broker.validate(document))
            line.action = outcome.action
        except SmarterError as error:
            _fail(line, error)
    return [line for line, _ in ordered]


class _Discarded(Exception):
    """Rolls a whole batch's preview back."""


def manifests_preview(*, caller: Caller, texts: list[str]) -> list[BatchLine]:
    """What applying the manifests would do, as `?dryRun=true` answers for each, in the order
    the batch would apply them: each is previewed after the ones before it are applied (a chatbot
    attaching a plugin of the same batch), in one transaction that is rolled back. Nothing is written."""
    ordered = _parsed_in_order(texts)
    try:
        with transaction.atomic():
            for line, document in ordered:
                if document is not None:
                    _preview_then_apply(caller, line, document)
            raise _Discarded
    except _Discarded:
        pass
    return [line for line, _ in ordered]


def _preview_then_apply(caller: Caller, line: BatchLine, document: dict[str, Any]) -> None:
    try:
        broker = broker_for(line.kind)
        line.kind = broker.kind
        manifest = broker.validate(document)
        preview = apply_preview(broker, caller, manifest)
        line.action, line.diff, line.warnings = preview.action, preview.diff, preview.warnings
        with transaction.atomic():  # a savepoint: a later manifest sees this one applied
            broker.apply(caller, manifest)
    except SmarterError as error:
        _fail(line, error)


def _parsed_in_order(texts: list[str]) -> list[tuple[BatchLine, dict[str, Any] | None]]:
    parsed: list[tuple[BatchLine, dict[str, Any] | None]] = []
    position = 0
    for text in texts:
        for chunk in split_documents(text):
            position += 1
            line = BatchLine(position=position, kind="", name="")
            document: dict[str, Any] | None = None
            try:
                document = load_manifest(chunk.encode())
            except SmarterError as error:
                _fail(line, error)
            if document is not None:
                line.kind = str(document.get("kind") or "")
                metadata = document.get("metadata")
                line.name = str(metadata.get("name") or "") if isinstance(metadata, dict) else ""
            parsed.append((line, document))
    return sorted(parsed, key=lambda item: (apply_rank(item[0].kind), item[0].position))


def _fail(line: BatchLine, error: SmarterError) -> None:
    line.status = error.status
    line.error = error.description
    line.errors = list(error.errors)


def as_yaml(document: dict[str, Any]) -> str:
    """A manifest as the editor shows it: YAML in the manifest's own key order."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
