"""The manifest drop zone: paste or upload many manifests, applied in dependency order."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from smarter.apps.dashboard import services
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.lib.manifests import MAX_MANIFEST_BYTES

MAX_FILES = 50


@require_http_methods(["GET", "POST"])
@console_page()
def apply_manifests(request: HttpRequest) -> HttpResponse:
    text, lines, problem = "", None, ""
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
            lines = services.manifests_apply(caller=caller_of(request), texts=texts)
    context = {"text": text, "lines": lines, "problem": problem}
    return page(request, "dashboard/apply.html", context, status=400 if problem else 200)
