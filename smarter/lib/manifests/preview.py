"""What applying a manifest would change, without changing anything (`?dryRun=true`).

A manifest is the whole desired state: the fields it omits take their defaults. So a partial
manifest pasted from a page (an `allowedOrigins` snippet, say) undeploys a chatbot and drops its
plugins. The preview shows that before it happens: the resource as describe shows it now, and
as it would after the apply, as a unified diff, with the changes that take something away named.

The apply itself runs, in a transaction that is always rolled back: the "after" is what the
same broker code would write, not a second implementation that could drift from it. Work a broker
defers until commit (Celery tasks, ingress and DNS changes) never runs, since nothing commits.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction

from smarter.lib.errors import NotFound

from .broker import ApplyOutcome, Broker


class _RolledBack(Exception):
    """Carries the outcome out of the transaction it rolls back."""

    def __init__(self, outcome: ApplyOutcome) -> None:
        super().__init__("dry run")
        self.outcome = outcome


@dataclass(frozen=True)
class Preview:
    action: str  # create, update or unchanged
    diff: str  # unified diff of the described manifest, before → after
    manifest: dict[str, Any]  # after
    warnings: list[str] = field(default_factory=list)  # what the change takes away

    def as_data(self) -> dict[str, Any]:
        return {"action": self.action, "diff": self.diff, "manifest": self.manifest, "warnings": self.warnings}


def apply_preview(broker: Broker, caller: Any, manifest: Any) -> Preview:
    """What `broker.apply(caller, manifest)` would do; nothing is written."""
    name = manifest.metadata.name
    try:
        before: dict[str, Any] | None = broker.describe(caller, name)
    except NotFound:
        before = None
    try:
        with transaction.atomic():
            raise _RolledBack(broker.apply(caller, manifest))
    except _RolledBack as rolled_back:
        after = rolled_back.outcome.manifest
    label = f"{broker.kind}/{name}"
    diff = "".join(
        difflib.unified_diff(
            _lines(before),
            _lines(after),
            fromfile=f"{label} (now)" if before is not None else "/dev/null",
            tofile=f"{label} (after apply)",
        )
    )
    action = "create" if before is None else ("unchanged" if not diff else "update")
    return Preview(action, diff, after, takes_away(before, after))


def _lines(document: dict[str, Any] | None) -> list[str]:
    if document is None:
        return []
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100).splitlines(keepends=True)


def takes_away(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """The changes a user must confirm: a resource taken offline (`deployed` true → false) and
    names dropped from a list of its spec (plugins, functions, allowed origins…). Lists of objects
    (a plugin's parameters) show in the diff only."""
    if before is None:
        return []
    warnings: list[str] = []
    _compare(before.get("spec"), after.get("spec"), "spec", warnings)  # status follows the spec
    return warnings


def _compare(before: Any, after: Any, path: str, warnings: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key, old in before.items():
            where = f"{path}.{key}"
            if key == "deployed" and old is True and after.get(key) is not True:
                warnings.append(f"{where}: true → {str(after.get(key)).lower()}: it is taken offline")
            elif key in after:
                _compare(old, after[key], where, warnings)
            elif isinstance(old, list) and old:
                warnings.append(f"{where}: {_listed(old)} removed")
    elif isinstance(before, list) and isinstance(after, list) and not any(isinstance(i, dict | list) for i in before):
        gone = [item for item in before if item not in after]
        if gone:
            warnings.append(f"{path}: {_listed(gone)} removed")


def _listed(items: list[Any]) -> str:
    return ", ".join(str(item) for item in items)
