"""Every kind a tenant manages, created, edited and deleted from forms, and shown as its manifest.

A form builds the kind's manifest and saves it through the same broker as the API's apply
(`services.resource_save`), so the checks, roles and field paths are the API's. A change that
takes something away is shown as a diff and waits for a confirmation; a delete shows what goes.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.forms import FORMS, PLUGIN_KINDS, bind, document_from, field_of, form_for
from smarter.apps.dashboard.journal import Journaled, journal_command_as
from smarter.lib.errors import FieldError, SmarterError
from smarter.lib.manifests import broker_for, load_manifest

CONNECTION_SLUGS = {"SqlConnection": "sql", "ApiConnection": "api"}
LISTS = {
    "Chatbot": "dashboard:chatbots",
    **{kind: "dashboard:plugins" for kind in PLUGIN_KINDS.values()},
    "SqlConnection": "dashboard:connections",
    "ApiConnection": "dashboard:connections",
    "TestSuite": "dashboard:evals",
    "Provider": "dashboard:providers",
    "Channel": "dashboard:channels",
    "KnowledgeBase": "dashboard:knowledge",
}


def detail_url(kind: str, name: str) -> str:
    """Where a resource is shown in the console: its own page, else its manifest."""
    if kind == "Chatbot":
        return reverse("dashboard:chatbot", args=[name])
    if kind in PLUGIN_KINDS.values():
        return reverse("dashboard:plugin", args=[name])
    if kind in CONNECTION_SLUGS:
        return reverse("dashboard:connection", args=[CONNECTION_SLUGS[kind], name])
    if kind == "KnowledgeBase":
        return reverse("dashboard:knowledge_base", args=[name])
    if kind == "Channel":
        return reverse("dashboard:channel", args=[name])
    return reverse("dashboard:resource_manifest", args=[kind, name])


def list_url(kind: str) -> str:
    try:
        return reverse(LISTS.get(kind, "dashboard:chatbots"))
    except NoReverseMatch:  # a kind whose list page this console does not have
        return reverse("dashboard:chatbots")


def _without_status(manifest: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in manifest.items() if key != "status"}


# --- create and edit --------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("apply", "{kind}"))
def resource_new(request: HttpRequest, kind: str) -> HttpResponse:
    return _form_page(request, kind, None)


@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("apply", "{kind}"))
def resource_edit(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    return _form_page(request, kind, name)


def _form_page(request: HttpRequest, kind: str, name: str | None) -> HttpResponse:
    form = form_for(kind)
    caller = caller_of(request)
    creating = name is None
    document = (
        form.new_document()
        if creating
        else _without_status(services.resource_manifest(caller=caller, kind=kind, name=name or ""))
    )
    broker_for(kind).check_can_write(caller)  # a member on an admins' kind: 403, as the API
    posted: Any = None
    errors: list[FieldError] = []
    problem, status = "", 200
    if request.method == "POST":
        saved = None
        try:
            if request.POST.get("confirmed") == "yes":  # the manifest the review showed, as it was shown
                document = load_manifest(request.POST.get("manifest", "").encode())
                saved = services.resource_save(caller=caller, kind=kind, document=document, name=name, confirmed=True)
            else:
                posted = request.POST
                document, errors = document_from(form, caller, document, posted, creating=creating)
                if errors:
                    problem, status = f"The {form.title.lower()} was not saved; fix the fields marked below.", 400
                else:
                    saved = services.resource_save(caller=caller, kind=kind, document=document, name=name)
        except SmarterError as error:
            problem, status, errors = error.description, error.status, list(error.errors)
        if saved is not None and saved.preview is not None:
            journal_command_as(request, "diff")
            context = {
                "form": form,
                "kind": kind,
                "name": name,
                "preview": saved.preview,
                "manifest_text": services.as_yaml(document),
                "cancel_url": reverse("dashboard:resource_edit", args=[kind, name]),
            }
            return page(request, "dashboard/resource_review.html", context)
        if saved is not None and saved.outcome is not None:
            return redirect(detail_url(kind, saved.outcome.manifest["metadata"]["name"]))
    fields, unplaced = bind(form, caller, document, creating=creating, posted=posted, errors=errors)
    context = {
        "form": form,
        "kind": kind,
        "name": name,
        "fields": fields,
        "problem": problem,
        # The summary at the top: every error, linked to the field that shows it.
        "summary": [(error, getattr(field_of(form, error.loc), "id", "")) for error in errors],
        "unplaced": unplaced,
        "cancel_url": detail_url(kind, name) if name else list_url(kind),
        "test_url": reverse("dashboard:plugin", args=[name]) + "#plugin-test"
        if name and kind in PLUGIN_KINDS.values()
        else "",
    }
    return page(request, "dashboard/resource_form.html", context, status=status)


# --- delete -----------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("delete", "{kind}"))
def resource_delete(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    form = form_for(kind)
    caller = caller_of(request)
    manifest = services.resource_manifest(caller=caller, kind=kind, name=name)
    broker_for(kind).check_can_write(caller)
    problem, status = "", 200
    if request.method == "POST":
        try:
            services.resource_delete(caller=caller, kind=kind, name=name)
        except SmarterError as error:
            problem, status = error.description, error.status
        else:
            return redirect(list_url(kind))
    context = {
        "form": form,
        "kind": kind,
        "name": name,
        "manifest": manifest,
        "manifest_text": services.as_yaml(manifest),
        "used_by": manifest.get("status", {}).get("usedBy") or [],
        "problem": problem,
        "cancel_url": detail_url(kind, name),
    }
    return page(request, "dashboard/resource_delete.html", context, status=status)


# --- the manifest -----------------------------------------------------------------------------
@require_http_methods(["GET"])
@console_page()
def resource_manifest(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    manifest = services.resource_manifest(caller=caller_of(request), kind=kind, name=name)
    text = services.as_yaml(manifest)
    if request.GET.get("download"):
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{name}.yaml"'
        return response
    context = {
        "kind": kind,
        "name": name,
        "manifest": manifest,
        "manifest_text": text,
        "editable": kind in FORMS,
        "apply_url": reverse("dashboard:apply") + f"?kind={kind}&name={name}",
        "detail_url": detail_url(kind, name),
        "section": _section(kind),
    }
    return page(request, "dashboard/resource_manifest.html", context)


def _section(kind: str) -> str:
    """The console's navigation entry a kind is under."""
    return LISTS.get(kind, "dashboard:chatbots").split(":")[1]


# --- kinds with no page of their own ----------------------------------------------------------
@require_http_methods(["GET"])
@console_page()
def provider_list(request: HttpRequest) -> HttpResponse:
    return _resource_list(request, "Provider", "Providers", "Your own OpenAI-compatible endpoints for chatbots.")


def _resource_list(request: HttpRequest, kind: str, title: str, intro: str) -> HttpResponse:
    table = broker_for(kind).get(caller_of(request))
    columns = [title["name"] for title in table["titles"]]
    rows = [(item["name"], [item.get(column) for column in columns]) for item in table["items"]]
    context = {
        "kind": kind,
        "title": title,
        "intro": intro,
        "columns": columns,
        "rows": rows,
        "section": _section(kind),
    }
    return page(request, "dashboard/resources.html", context)
