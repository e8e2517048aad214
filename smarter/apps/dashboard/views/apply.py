"""The manifest drop zone: paste or upload many manifests, applied in dependency order."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.journal import batch_record
from smarter.lib.manifests import MAX_MANIFEST_BYTES

MAX_FILES = 50


@require_http_methods(["GET", "POST"])
@console_page()
def apply_manifests(request: HttpRequest) -> HttpResponse:
    """Preview shows each manifest's diff; Apply applies at once unless a change takes something
    away (undeploys, drops plugins…): then the diffs are shown and nothing changes until the
    user confirms."""
    text, lines, previews, problem = "", None, None, ""
    if request.method == "GET" and request.GET.get("kind") and request.GET.get("name"):
        # "Open in Apply" from a resource's manifest: its spec, ready to change and apply.
        manifest = services.resource_manifest(
            caller=caller_of(request), kind=request.GET["kind"], name=request.GET["name"]
        )
        text = services.as_yaml({key: value for key, value in manifest.items() if key != "status"})
    if request.method == "POST":
        text = request.POST.get("manifests", "")
        texts = [text] if text.strip() else []
        uploads = request.FILES.getlist("files")[:MAX_FILES]
        for upload in uploads:
            if upload.size is not None and upload.size > MAX_MANIFEST_BYTES:
                problem = f"{upload.name} is larger than {MAX_MANIFEST_BYTES} bytes."
                break
            texts.append(upload.read().decode("utf-8", errors="replace"))
        if not texts and not problem:
            problem = "Paste a manifest or choose files to apply."
        if not problem:
            caller, started = caller_of(request), time.perf_counter()
            text = "\n---\n".join(texts)  # uploads too: a confirmation sends them all again
            if "preview" in request.POST or request.POST.get("confirmed") != "yes":
                previews = services.manifests_preview(caller=caller, texts=texts)
            if "preview" not in request.POST and not any(line.warnings for line in previews or []):
                lines, previews = services.manifests_apply(caller=caller, texts=texts), None
                batch_record(request, caller, command="apply", lines=lines, started=started)
            else:
                batch_record(request, caller, command="diff", lines=previews or [], started=started)
    asks = previews is not None and "preview" not in request.POST
    context = {"text": text, "lines": lines, "previews": previews, "asks": asks, "problem": problem}
    return page(request, "dashboard/apply.html", context, status=400 if problem else 200)
