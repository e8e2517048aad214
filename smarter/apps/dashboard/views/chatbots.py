"""Chatbots: the list, and one chatbot's configuration, branding, plugins and deployment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from smarter.apps.chatbot import services as chatbot_services
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.editor import field_of
from smarter.apps.dashboard.journal import Journaled
from smarter.apps.dashboard.selectors import chatbot_versions
from smarter.apps.dashboard.views.embed import embed_context
from smarter.lib.console_panels import panels_for
from smarter.lib.errors import NotFound, SmarterError
from smarter.lib.manifests import broker_for


@dataclass(frozen=True)
class ConfigField:
    """One field of the chatbot form: its `spec.config` key, how it is edited, and what it means."""

    key: str
    label: str
    widget: str = "text"  # text | textarea | number | lines | url
    help: str = ""
    step: str = ""


MODEL_FIELDS = (
    ConfigField("provider", "Provider", help="openai, offline or one of your Providers; empty: the platform's"),
    ConfigField("defaultModel", "Model", help="Empty: the provider's default model"),
    ConfigField("defaultSystemRole", "System prompt", "textarea"),
    ConfigField("defaultTemperature", "Temperature", "number", "0 is focused, 2 is inventive", "0.1"),
    ConfigField("defaultMaxTokens", "Max tokens", "number", "Longest answer, in tokens", "1"),
)
BRANDING_FIELDS = (
    ConfigField("appName", "Name", help="Shown as the page title and heading"),
    ConfigField("appAssistant", "Assistant name"),
    ConfigField("appWelcomeMessage", "Welcome message", "textarea"),
    ConfigField("appExamplePrompts", "Example prompts", "lines", "One per line, at most 10"),
    ConfigField("appPlaceholder", "Input placeholder"),
    ConfigField("appInfoUrl", "Info link", "url"),
    ConfigField("appLogoUrl", "Logo URL", "url"),
    ConfigField("appBackgroundImageUrl", "Background image URL", "url"),
)
FIELDS = MODEL_FIELDS + BRANDING_FIELDS


def form_values(config: dict[str, Any]) -> dict[str, str]:
    """A chatbot's config as the form shows it."""
    values = {}
    for spec in FIELDS:
        value = config.get(spec.key)
        if spec.widget == "lines":
            values[spec.key] = "\n".join(value or [])
        else:
            values[spec.key] = "" if value is None else str(value)
    return values


def submitted_config(data: Any) -> dict[str, Any]:
    """The posted form as `spec.config` changes. Numbers stay text: the manifest's own model
    converts them, or reports the field that is not a number."""
    config: dict[str, Any] = {}
    for spec in FIELDS:
        raw = str(data.get(spec.key, ""))
        if spec.widget == "lines":
            config[spec.key] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif spec.widget == "url":
            config[spec.key] = raw.strip() or None
        else:
            config[spec.key] = raw
    return config


@require_http_methods(["GET"])
@console_page()
def chatbot_list(request: HttpRequest) -> HttpResponse:
    items = broker_for("Chatbot").list_items(caller_of(request))
    return page(request, "dashboard/chatbots.html", {"chatbots": items})


@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("apply", "Chatbot"))
def chatbot_detail(request: HttpRequest, name: str) -> HttpResponse:
    caller = caller_of(request)
    broker = broker_for("Chatbot")
    manifest = broker.describe(caller, name)
    values = form_values(manifest["spec"]["config"])
    errors: dict[str, list[str]] = {}
    other_errors: list[str] = []
    message, status = "", 200
    if request.method == "POST":
        values = {spec.key: str(request.POST.get(spec.key, "")) for spec in FIELDS}
        try:
            outcome = services.chatbot_configure(caller=caller, name=name, config=submitted_config(request.POST))
        except SmarterError as error:
            status = error.status
            for problem in error.errors:
                key = field_of(problem.loc)
                if key in values:
                    errors.setdefault(key, []).append(problem.msg)
                else:
                    other_errors.append(f"{problem.loc}: {problem.msg}")
            if not error.errors:
                other_errors.append(error.description)
        else:
            manifest = outcome.manifest
            values = form_values(manifest["spec"]["config"])
            message = {"updated": "Saved.", "unchanged": "Nothing changed.", "created": "Saved."}[outcome.action]
    context = {
        "manifest": manifest,
        "chatbot_name": name,
        "model_fields": [(spec, values[spec.key], errors.get(spec.key, [])) for spec in MODEL_FIELDS],
        "branding_fields": [(spec, values[spec.key], errors.get(spec.key, [])) for spec in BRANDING_FIELDS],
        "values": values,
        "examples": [line.strip() for line in values["appExamplePrompts"].splitlines() if line.strip()],
        "versions": chatbot_versions(caller, name),
        "panels": panels_for("chatbot", caller, name),
        "other_errors": other_errors,
        "message": message,
        **embed_context(manifest),
    }
    return page(request, "dashboard/chatbot_detail.html", context, status=status)


@require_POST
@console_page(admin=True, journal=Journaled("{action}", "Chatbot"))
def chatbot_deployment(request: HttpRequest, name: str, action: str) -> HttpResponse:
    chatbot = chatbot_get(account=caller_of(request).account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found.")
    if action == "deploy":
        chatbot_services.chatbot_deploy(chatbot=chatbot)
    else:
        chatbot_services.chatbot_undeploy(chatbot=chatbot)
    return redirect("dashboard:chatbot", name=name)
