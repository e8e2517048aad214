"""Knowledge bases in the console: the account's knowledge bases with their counts, and one
knowledge base's settings, documents (refreshing while any is being ingested), uploads, text and
URL documents, deletion and search.

Every write is a knowledge service, as through the API (`/api/v1/knowledge/<kb>/...`), with the
same roles (members and admins alike), the same rate limit and the same journal entries: one
`upload` of `Document` `<kb>/<document>` per document added (a refused one too), one `delete` per
document deleted. A search is neither journaled nor a write, as in the API.

An upload is refused while it streams in once it passes the limit (`UploadLimit`). For that the
limit must be installed before anything reads the body, and Django's CSRF check reads it, so the
upload view is exempt from the middleware's check and runs the same check itself right after.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smarter.apps.account.caller import Caller
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.journal import console_change_record
from smarter.apps.knowledge import selectors, services
from smarter.apps.knowledge.models import Document, DocumentStatus, KnowledgeBase
from smarter.apps.knowledge.services.documents import max_request_bytes, too_large
from smarter.apps.knowledge.uploads import UploadLimit
from smarter.lib.errors import FieldError, NotFound, SmarterError, ValidationFailed

# What the file input offers; the server decides from the bytes (`parsing.detect_type`).
ACCEPTED_EXTENSIONS = ".txt,.text,.md,.markdown,.html,.htm,.pdf,.docx"
# The API's bounds on a search (`knowledge/api/views.py`).
MAX_QUERY_LENGTH = 2000
MAX_TOP_K = 50
PENDING = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


def _knowledge_base(request: HttpRequest, name: str) -> KnowledgeBase:
    knowledge_base = selectors.knowledge_base_get(account=caller_of(request).account, name=name)
    if knowledge_base is None:
        raise NotFound(f"KnowledgeBase {name!r} was not found.")
    return knowledge_base


def _documents_context(caller: Caller, knowledge_base: KnowledgeBase) -> dict[str, Any]:
    documents = list(selectors.documents_of(account=caller.account, knowledge_base=knowledge_base))
    return {
        "knowledge_base": knowledge_base,
        "counts": selectors.knowledge_base_counts(knowledge_base),
        "documents": documents,
        "pending": any(document.status in PENDING for document in documents),
    }


def _page(request: HttpRequest, knowledge_base: KnowledgeBase, status: int = 200, **state: Any) -> HttpResponse:
    """The knowledge base's page; `state` carries what a refused form or a search left to show."""
    max_mib = services.max_upload_bytes() // (1024 * 1024)
    context = {
        **_documents_context(caller_of(request), knowledge_base),
        "accepted": ACCEPTED_EXTENSIONS,
        "max_bytes": services.max_upload_bytes(),
        "max_mib": max_mib,
        "text_form": {"name": "", "text": ""},
        "url_form": {"url": ""},
        "search": {"query": "", "top_k": "", "results": None},
        "error": "",
        "field_errors": [],
        "added": [],
        **state,
    }
    return page(request, "dashboard/knowledge_base.html", context, status=status)


# --- pages ------------------------------------------------------------------------------------
@require_GET
@console_page()
def knowledge_list(request: HttpRequest) -> HttpResponse:
    knowledge_bases = selectors.knowledge_bases_with_counts(caller_of(request).account)
    return page(request, "dashboard/knowledge.html", {"knowledge_bases": knowledge_bases})


@require_GET
@console_page()
def knowledge_base_detail(request: HttpRequest, name: str) -> HttpResponse:
    return _page(request, _knowledge_base(request, name))


# --- adding documents -------------------------------------------------------------------------
def _csrf_refusal(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check, as its middleware runs it for a view that is not exempt."""
    check = CsrfViewMiddleware(lambda _request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, lambda _request: HttpResponse(), (), {})


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@csrf_exempt  # a POST runs the same check in the view, once the upload limit is in place (see the module)
@require_http_methods(["GET", "POST"])
@console_page()
def knowledge_documents(request: HttpRequest, name: str) -> HttpResponse:
    """`GET`: the counts and the documents table alone, what the page fetches to refresh them.
    `POST`: add a multipart `file` (one or more), or a `name` and `text`, or a `url`. Answers
    JSON to the page's uploader (`Accept: application/json`): 202 `{"id", "name", "status"}` as
    the API does, or the API's error envelope; a plain form goes back to the page, or shows it
    with the error."""
    knowledge_base = _knowledge_base(request, name)
    if request.method == "GET":
        context = _documents_context(caller_of(request), knowledge_base)
        return page(request, "dashboard/knowledge_documents.html", context)
    return _document_add(request, knowledge_base)


def _document_add(request: HttpRequest, knowledge_base: KnowledgeBase) -> HttpResponse:
    caller = caller_of(request)
    started = time.perf_counter()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Refused before the CSRF check has said the request is the user's own: not journaled, so
    # that another site cannot write in the account's journal.
    if declared > max_request_bytes():
        return _refused(request, knowledge_base, too_large(declared), started=started, journal=False)
    request.upload_handlers = [UploadLimit(request, services.max_upload_bytes()), *request.upload_handlers]
    try:
        refusal = _csrf_refusal(request)  # reads the body, through the limit
    except SmarterError as error:
        return _refused(request, knowledge_base, error, started=started, journal=False)
    if refusal is not None:
        return refusal
    try:
        services.knowledge_request_admit(caller=caller)
        uploads = request.FILES.getlist("file")
    except SmarterError as error:
        return _refused(request, knowledge_base, error, started=started)
    if uploads:
        return _add_files(request, knowledge_base, uploads, started=started)
    return _add_text_or_url(request, knowledge_base, started=started)


def _journal(request: HttpRequest, name: str, status: int, started: float, *, command: str = "upload") -> None:
    console_change_record(
        request, caller_of(request), command=command, kind="Document", name=name, status_code=status, started=started
    )


def _refused(
    request: HttpRequest,
    knowledge_base: KnowledgeBase,
    error: SmarterError,
    *,
    started: float,
    journal: bool = True,
    **state: Any,
) -> HttpResponse:
    if journal:  # named by the knowledge base alone, as the API journals a refused upload
        _journal(request, knowledge_base.name, error.status, started)
    if _wants_json(request):
        response: HttpResponse = JsonResponse(error.as_envelope(), status=error.status)
    else:
        response = _page(
            request,
            knowledge_base,
            status=error.status,
            error=error.description,
            field_errors=[problem.as_dict() for problem in error.errors],
            **state,
        )
    for header, value in error.headers.items():
        response[header] = value
    return response


def _added(request: HttpRequest, knowledge_base: KnowledgeBase, documents: list[Document]) -> HttpResponse:
    if _wants_json(request):
        items = [{"id": document.pk, "name": document.name, "status": document.status} for document in documents]
        return JsonResponse(items[0] if len(items) == 1 else {"items": items}, status=202)
    return redirect(reverse("dashboard:knowledge_base", args=[knowledge_base.name]) + "#documents")


def _add_files(
    request: HttpRequest, knowledge_base: KnowledgeBase, uploads: list[Any], *, started: float
) -> HttpResponse:
    """Each file is its own document, as each is its own request to the API: one refused (the
    first one refused stops the rest) leaves those before it added."""
    account = caller_of(request).account
    documents: list[Document] = []
    for upload in uploads:
        try:
            document = services.document_add_file(
                account=account,
                knowledge_base=knowledge_base,
                name=upload.name or "",
                data=upload.read(),
                content_type=upload.content_type,
            )
        except SmarterError as error:
            added = [document.name for document in documents]
            return _refused(request, knowledge_base, error, started=started, added=added)
        _journal(request, f"{knowledge_base.name}/{document.name}", 202, started)
        documents.append(document)
    return _added(request, knowledge_base, documents)


def _add_text_or_url(request: HttpRequest, knowledge_base: KnowledgeBase, *, started: float) -> HttpResponse:
    account = caller_of(request).account
    if "url" in request.POST:
        url = request.POST.get("url", "").strip()
        state: dict[str, Any] = {"url_form": {"url": url}}
        try:
            if not url:
                raise ValidationFailed("Give the URL of a document.", errors=[FieldError("url", "must not be empty")])
            document = services.document_add_url(account=account, knowledge_base=knowledge_base, url=url)
        except SmarterError as error:
            return _refused(request, knowledge_base, error, started=started, **state)
    elif "text" in request.POST or "name" in request.POST:
        text_name, text = request.POST.get("name", "").strip(), request.POST.get("text", "")
        state = {"text_form": {"name": text_name, "text": text}}
        try:
            if not text.strip():
                raise ValidationFailed("Give the document's text.", errors=[FieldError("text", "must not be empty")])
            document = services.document_add_text(
                account=account, knowledge_base=knowledge_base, name=text_name, text=text
            )
        except SmarterError as error:
            return _refused(request, knowledge_base, error, started=started, **state)
    else:
        problem = ValidationFailed(
            "Send a file, or a name and a text, or a URL.",
            errors=[FieldError("(root)", "expected a file, {name, text} or {url}")],
        )
        return _refused(request, knowledge_base, problem, started=started)
    _journal(request, f"{knowledge_base.name}/{document.name}", 202, started)
    return _added(request, knowledge_base, [document])


# --- deleting and searching -------------------------------------------------------------------
@require_POST
@console_page()
def knowledge_document_delete(request: HttpRequest, name: str, document_id: int) -> HttpResponse:
    started = time.perf_counter()
    account = caller_of(request).account
    knowledge_base = selectors.knowledge_base_get(account=account, name=name)
    document = None
    if knowledge_base is not None:
        document = selectors.document_get(account=account, knowledge_base=knowledge_base, document_id=document_id)
    if knowledge_base is None or document is None:
        _journal(request, name, 404, started, command="delete")
        raise NotFound(f"Document {document_id} was not found in knowledge base {name!r}.")
    journaled_name = f"{knowledge_base.name}/{document.name}"
    services.document_delete(document=document)
    _journal(request, journaled_name, 200, started, command="delete")
    return redirect(reverse("dashboard:knowledge_base", args=[knowledge_base.name]) + "#documents")


def _top_k(raw: str) -> int | None:
    if not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_TOP_K:
        raise ValidationFailed(
            f"Show between 1 and {MAX_TOP_K} results.", errors=[FieldError("topK", f"must be 1 to {MAX_TOP_K}")]
        )
    return value


@require_POST
@console_page()
def knowledge_search(request: HttpRequest, name: str) -> HttpResponse:
    """The knowledge base's best chunks for a query, with their scores: the API's search."""
    caller = caller_of(request)
    knowledge_base = _knowledge_base(request, name)
    query, raw_top_k = request.POST.get("query", ""), request.POST.get("topK", "")
    search: dict[str, Any] = {"query": query, "top_k": raw_top_k, "results": None}
    try:
        if not query.strip():
            raise ValidationFailed("Give a query to search for.", errors=[FieldError("query", "must not be blank")])
        if len(query) > MAX_QUERY_LENGTH:
            raise ValidationFailed(
                f"A query may be at most {MAX_QUERY_LENGTH} characters.",
                errors=[FieldError("query", f"at most {MAX_QUERY_LENGTH} characters")],
            )
        top_k = _top_k(raw_top_k)
        services.knowledge_request_admit(caller=caller)
        search["results"] = services.knowledge_search(knowledge_base=knowledge_base, query=query, top_k=top_k)
    except SmarterError as error:
        response = _page(
            request,
            knowledge_base,
            status=error.status,
            search=search,
            search_error=error.description,
            search_field_errors=[problem.as_dict() for problem in error.errors],
        )
        for header, value in error.headers.items():
            response[header] = value
        return response
    return _page(request, knowledge_base, search=search)
