"""Plugins and connections: their manifests in an editor that applies through the broker, and
a test bench that runs a plugin as the model would."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.editor import located
from smarter.apps.dashboard.forms import PLUGIN_KINDS
from smarter.apps.dashboard.journal import Journaled
from smarter.apps.plugin import services as plugin_services
from smarter.apps.plugin.arguments import arguments_from_test_values
from smarter.lib.errors import NotFound, RateLimited, SmarterError
from smarter.lib.json_input import MAX_JSON_BYTES, parse_json
from smarter.lib.manifests import broker_for

CONNECTION_KINDS = {"sql": "SqlConnection", "api": "ApiConnection"}


def _editor(request: HttpRequest, kind: str, name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """The editor's state: the manifest as YAML, or what was posted and why it failed."""
    text = services.as_yaml({key: value for key, value in manifest.items() if key != "status"})
    state: dict[str, Any] = {"text": text, "errors": [], "error": "", "message": "", "status": 200}
    if request.method == "POST" and "manifest" in request.POST:
        posted = request.POST["manifest"]
        try:
            outcome = services.manifest_apply(caller=caller_of(request), text=posted, kind=kind, name=name)
        except SmarterError as error:
            state.update(text=posted, error=error.description, errors=located(posted, error.errors))
            state["status"] = error.status
        else:
            manifest = outcome.manifest
            state["text"] = services.as_yaml({k: v for k, v in manifest.items() if k != "status"})
            state["message"] = f"Applied: {outcome.action}."
    state["manifest"] = manifest
    return state


@require_http_methods(["GET"])
@console_page()
def plugin_list(request: HttpRequest) -> HttpResponse:
    items = broker_for("Plugin").list_items(caller_of(request))
    # Each with its kind, which the form, manifest and delete pages are named by.
    plugins = [{**item, "kind": PLUGIN_KINDS[item["pluginClass"]]} for item in items]
    return page(request, "dashboard/plugins.html", {"plugins": plugins})


def _test_arguments(manifest: dict[str, Any]) -> str:
    spec = manifest["spec"]
    if "data" in spec:
        keys = list((spec["data"].get("staticData") or {}).keys())
        return json.dumps({"inquiry_type": keys[0]} if keys else {})
    data = spec.get("sqlData") or spec.get("apiData") or {}
    return json.dumps(arguments_from_test_values(data.get("testValues") or []), indent=2)


@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("apply", "Plugin"))
def plugin_detail(request: HttpRequest, name: str) -> HttpResponse:
    manifest = broker_for("Plugin").describe(caller_of(request), name)
    editor = _editor(request, manifest["kind"], name, manifest)
    context = {
        "plugin_name": name,
        "editor": editor,
        "manifest": editor["manifest"],
        "arguments": _test_arguments(editor["manifest"]),
        "test": None,
        "tool_schema": json.dumps(editor["manifest"]["status"].get("toolSchema"), indent=2),
    }
    return page(request, "dashboard/plugin_detail.html", context, status=editor["status"])


@require_POST
@console_page(journal=Journaled("test", "Plugin"))
def plugin_test(request: HttpRequest, name: str) -> HttpResponse:
    caller = caller_of(request)
    manifest = broker_for("Plugin").describe(caller, name)
    raw = request.POST.get("arguments", "").strip()
    test: dict[str, Any] = {"arguments": raw}
    try:
        arguments = parse_json(raw.encode(), max_bytes=MAX_JSON_BYTES, what="arguments field") if raw else None
    except SmarterError as error:
        test["invalid"] = error.description
    else:
        try:
            result = plugin_services.plugin_test(account=caller.account, name=name, arguments=arguments, caller=caller)
        except RateLimited as error:
            return _rate_limited(request, error)
        test.update(
            result=json.dumps(result.result, indent=2, ensure_ascii=False, default=str),
            error=result.error,
            ms=round(result.ms, 2),
            executed=result.executed,
            executed_text=json.dumps(result.executed, indent=2, ensure_ascii=False, default=str),
        )
    editor = _editor(request, manifest["kind"], name, manifest)
    context = {
        "plugin_name": name,
        "editor": editor,
        "manifest": manifest,
        "arguments": raw or _test_arguments(manifest),
        "test": test,
        "tool_schema": json.dumps(manifest["status"].get("toolSchema"), indent=2),
    }
    return page(request, "dashboard/plugin_detail.html", context)


def _rate_limited(request: HttpRequest, error: RateLimited) -> HttpResponse:
    response = page(
        request, "dashboard/error.html", {"status": 429, "title": "Too many tests", "message": error.description}, 429
    )
    for header, value in error.headers.items():
        response[header] = value
    return response


@require_http_methods(["GET"])
@console_page()
def connection_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    groups = [(slug, kind, broker_for(kind).list_items(caller)) for slug, kind in CONNECTION_KINDS.items()]
    return page(request, "dashboard/connections.html", {"groups": groups})


@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("apply", "{kind}", kinds=tuple(CONNECTION_KINDS.items())))
def connection_detail(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    if kind not in CONNECTION_KINDS:
        raise NotFound("No such kind of connection.")
    manifest = broker_for(CONNECTION_KINDS[kind]).describe(caller_of(request), name)
    editor = _editor(request, CONNECTION_KINDS[kind], name, manifest)
    context = {
        "connection_name": name,
        "kind": CONNECTION_KINDS[kind],
        "editor": editor,
        "manifest": editor["manifest"],
    }
    return page(request, "dashboard/connection_detail.html", context, status=editor["status"])
