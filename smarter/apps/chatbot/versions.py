"""Configuration versions of a chatbot: record, list, compare, save sandbox overrides, roll back.

Saving and rolling back apply a manifest through the Chatbot broker, so they are validated
exactly like `apply` (a plugin deleted since is a 400, not a broken chatbot). Deployment fields
(deployed, custom domain, required key) are never changed by a version: rolling back the prompt
must not take a chatbot offline.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max

from smarter.apps.chatbot.models import Chatbot, ChatbotVersion
from smarter.lib.errors import NotFound
from smarter.lib.manifests.broker import Caller

DEPLOYMENT_FIELDS = ("deployed", "customDomain", "subdomain", "allowedOrigins")


def chatbot_version_record(
    *, chatbot: Chatbot, spec: dict[str, Any], user: User | None, note: str = ""
) -> ChatbotVersion:
    number = (ChatbotVersion.objects.filter(chatbot=chatbot).aggregate(last=Max("number"))["last"] or 0) + 1
    return ChatbotVersion.objects.create(chatbot=chatbot, number=number, spec=spec, note=note[:255], created_by=user)


def versions_of(chatbot: Chatbot) -> list[ChatbotVersion]:
    return list(ChatbotVersion.objects.filter(chatbot=chatbot).select_related("created_by").order_by("-number"))


def version_get(*, chatbot: Chatbot, number: int) -> ChatbotVersion:
    version = ChatbotVersion.objects.filter(chatbot=chatbot, number=number).first()
    if version is None:
        raise NotFound(
            f"Chatbot {chatbot.name!r} has no version {number}.", context={"kind": "Chatbot", "name": chatbot.name}
        )
    return version


def version_diff(before: dict[str, Any], after: dict[str, Any], path: str = "spec") -> list[dict[str, Any]]:
    """Every leaf that differs, as `{path, before, after}`, in a stable order."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after)):
            changes += version_diff(before.get(key), after.get(key), f"{path}.{key}")  # type: ignore[arg-type]
        return changes
    return [] if before == after else [{"path": path, "before": before, "after": after}]


def is_deployment_path(path: str) -> bool:
    """Whether a `version_diff` path is a deployment field (rolling back never changes those)."""
    return path == "spec.apiKey" or path.removeprefix("spec.config.") in DEPLOYMENT_FIELDS


def deployment_rows(before: dict[str, Any], after: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """The deployment fields of two versions' specs and of the chatbot now, one row per field:
    `{field, before, after, current, changed}`. Deploy and undeploy are not versions, so the
    current state may differ from both."""

    def value(spec: dict[str, Any], field: str) -> Any:
        return spec.get("apiKey") if field == "apiKey" else spec.get("config", {}).get(field)

    rows = []
    for field in (*DEPLOYMENT_FIELDS, "apiKey"):
        row = {"field": field, "before": value(before, field), "after": value(after, field)}
        rows.append({**row, "current": value(current, field), "changed": row["before"] != row["after"]})
    return rows


def _apply_spec(*, caller: Caller, chatbot: Chatbot, spec: dict[str, Any], note: str) -> ChatbotVersion | None:
    from smarter.apps.chatbot.manifests import ChatbotBroker  # the broker imports this module

    broker = ChatbotBroker()
    current = broker.describe(caller, chatbot.name)
    merged = copy.deepcopy(spec)
    for field in DEPLOYMENT_FIELDS:
        merged.setdefault("config", {})[field] = current["spec"]["config"].get(field)
    merged["apiKey"] = current["spec"].get("apiKey")
    document = {**{k: current[k] for k in ("apiVersion", "kind", "metadata")}, "spec": merged}
    outcome = broker.apply(caller, broker.validate(document))
    if outcome.action == "unchanged":
        return None
    version = ChatbotVersion.objects.filter(chatbot=chatbot).order_by("-number").first()
    assert version is not None
    version.note = note[:255]
    version.save(update_fields=["note"])
    return version


@transaction.atomic
def chatbot_save_overrides(
    *,
    caller: Caller,
    chatbot: Chatbot,
    system_role: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    plugins: list[str] | None = None,
) -> ChatbotVersion | None:
    """The sandbox's "Save as new version": the saved configuration with these changes.
    Returns None when they change nothing."""
    from smarter.apps.chatbot.manifests import ChatbotBroker

    spec = copy.deepcopy(ChatbotBroker().describe(caller, chatbot.name)["spec"])
    config = spec["config"]
    for field, value in (
        ("defaultSystemRole", system_role),
        ("defaultModel", model),
        ("defaultTemperature", temperature),
        ("defaultMaxTokens", max_tokens),
    ):
        if value is not None:
            config[field] = value
    if plugins is not None:
        spec["plugins"] = list(plugins)
    return _apply_spec(caller=caller, chatbot=chatbot, spec=spec, note="saved from the sandbox")


@transaction.atomic
def chatbot_rollback(*, caller: Caller, chatbot: Chatbot, number: int) -> ChatbotVersion | None:
    """Make version `number`'s configuration current again, as a new version."""
    version = version_get(chatbot=chatbot, number=number)
    return _apply_spec(caller=caller, chatbot=chatbot, spec=version.spec, note=f"rollback to version {number}")
