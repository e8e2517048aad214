"""What the API tests share: a snapshot of every tenant-owned table, to prove nothing changed."""

from __future__ import annotations

from typing import Any

from django.apps import apps

APPLY = "/api/v1/cli/apply/"

# The journal records refused commands on purpose, and authenticating records a key's use:
# neither is part of "nothing changed".
_IGNORED = {"account.journalentry"}
_IGNORED_COLUMNS = {"last_used_at"}


def database_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Smarter table (and users), for before/after comparisons."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    models = [m for m in apps.get_models() if m._meta.app_label in {"account", "plugin", "chatbot", "chat", "auth"}]
    for model in models:
        label = model._meta.label_lower
        if label in _IGNORED or label in {"auth.permission", "auth.group"}:
            continue
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in _IGNORED_COLUMNS]
        snapshot[label] = sorted(map(tuple, model.objects.values_list(*columns)), key=repr)
    return snapshot
