"""Publish / Embed: the widget's script tag, the chatbot's URLs, and the sites allowed to embed it.

Adding a site is a change of the chatbot's `spec.config.allowedOrigins` through the Chatbot
broker, as `smarter apply` would make it: previewed as a diff first, journaled, for admins only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from smarter.apps.chatbot.models import DomainStatus
from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.journal import Journaled
from smarter.lib.errors import SmarterError
from smarter.lib.manifests import Preview, broker_for


def site_origin(text: str) -> str:
    """The origin of what the operator typed: a page's whole URL is taken for its site."""
    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc and (parts.path not in ("", "/") or parts.query):
        return f"{parts.scheme}://{parts.netloc}"
    return text


def embed_context(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the dialog and the page show: the tag to copy, the chatbot's URLs, the origins."""
    status = manifest["status"]
    # The custom domain once it is verified (before, its host serves nothing).
    custom = status.get("customUrl") if status.get("dnsVerificationStatus") == DomainStatus.VERIFIED.label else None
    base = custom or status["defaultUrl"]
    widget_url = base + "widget.js"
    return {
        "snippet": f'<script src="{widget_url}" async></script>',
        "styled_snippet": f'<script src="{widget_url}" data-color="#0f766e" data-position="left" async></script>',
        "urls": [
            ("Chat page", status["defaultUrl"]),
            *([("Chat page on your domain", custom)] if custom else []),
            ("Widget script", widget_url),
            ("Chat endpoint", base + "chat/"),
        ],
        "allowed_origins": manifest["spec"]["config"].get("allowedOrigins", []),
    }


@require_http_methods(["GET", "POST"])
@console_page(journal=Journaled("{command}", "Chatbot"))
def chatbot_embed(request: HttpRequest, name: str, command: str) -> HttpResponse:
    """GET: the page (the dialog's content without script). POST to `preview/`: the change as a
    diff, nothing written; POST here: the origin added."""
    caller = caller_of(request)
    manifest = broker_for("Chatbot").describe(caller, name)
    origin, error, preview, status = "", "", None, 200
    if request.method == "POST":
        origin = site_origin(str(request.POST.get("origin", "")))
        try:
            outcome = services.chatbot_origin_allow(caller=caller, name=name, origin=origin, dry_run=command == "diff")
        except SmarterError as refused:
            if refused.status == 403:
                raise
            status = refused.status
            error = "; ".join(problem.msg for problem in refused.errors) or refused.description
        else:
            if isinstance(outcome, Preview):
                preview = outcome
            else:
                return redirect(reverse("dashboard:embed", args=[name]) + "?added=" + origin)
    added = request.GET.get("added", "")
    context = {
        "manifest": manifest,
        "chatbot_name": name,
        "origin": origin,
        "origin_error": error,
        "preview": preview,
        "added": added if added in manifest["spec"]["config"].get("allowedOrigins", []) else "",
        **embed_context(manifest),
    }
    return page(request, "dashboard/embed.html", context, status=status)
