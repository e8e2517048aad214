"""Chatbot configuration versions in the console: save the sandbox's overrides, compare, roll back."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST
from pydantic import ValidationError

from smarter.apps.chatbot import versions
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.views.sandbox import Overrides
from smarter.lib.errors import NotFound, SmarterError, ValidationFailed
from smarter.lib.json_input import MAX_JSON_BYTES, parse_json_object, request_body
from smarter.lib.manifests import broker_for, field_errors


def _chatbot(request: HttpRequest, name: str) -> Chatbot:
    chatbot = chatbot_get(account=caller_of(request).account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found.")
    return chatbot


@require_POST
@console_page()
def save_version(request: HttpRequest, name: str) -> HttpResponse:
    """The sandbox's "Save as new version": JSON overrides in, the new version's number out."""
    chatbot = _chatbot(request, name)
    try:
        body = request_body(request, max_bytes=MAX_JSON_BYTES)
        overrides = Overrides.model_validate(parse_json_object(body, max_bytes=MAX_JSON_BYTES))
        saved = versions.chatbot_save_overrides(
            caller=caller_of(request),
            chatbot=chatbot,
            system_role=overrides.system_role,
            model=overrides.model,
            temperature=overrides.temperature,
            max_tokens=overrides.max_tokens,
            plugins=overrides.plugins,
        )
    except ValueError as error:
        problems = field_errors(error) if isinstance(error, ValidationError) else []
        failure = ValidationFailed("The overrides are invalid.", errors=problems)
        return JsonResponse(failure.as_envelope(), status=400)
    except SmarterError as error:
        return JsonResponse(error.as_envelope(), status=error.status)
    return JsonResponse({"saved": saved.number if saved else None})


@require_GET
@console_page()
def version_diff(request: HttpRequest, name: str, number: int, other: int) -> HttpResponse:
    chatbot = _chatbot(request, name)
    before = versions.version_get(chatbot=chatbot, number=number)
    after = versions.version_get(chatbot=chatbot, number=other)
    changes = versions.version_diff(before.spec, after.spec)
    current = broker_for("Chatbot").describe(caller_of(request), name)["spec"]
    context = {
        "chatbot": chatbot,
        "before": before,
        "after": after,
        "changes": [change for change in changes if not versions.is_deployment_path(change["path"])],
        "deployment": versions.deployment_rows(before.spec, after.spec, current),
    }
    return page(request, "dashboard/version_diff.html", context)


@require_POST
@console_page()
def rollback(request: HttpRequest, name: str, number: int) -> HttpResponse:
    versions.chatbot_rollback(caller=caller_of(request), chatbot=_chatbot(request, name), number=number)
    return redirect("dashboard:chatbot", name=name)
