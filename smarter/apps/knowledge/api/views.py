"""`/api/v1/knowledge/<kb>/...`: a knowledge base's documents and its search (API.md, "Knowledge
bases"). Parsing and shaping only; the services decide. A knowledge base of another account is
not found (404), like one that does not exist."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from pydantic import BaseModel, ConfigDict, Field
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from smarter.apps.account.api.journaled import JournaledView
from smarter.apps.knowledge import selectors, services
from smarter.apps.knowledge.models import Document, KnowledgeBase
from smarter.apps.knowledge.services.documents import max_request_bytes, max_upload_bytes, too_large
from smarter.apps.knowledge.uploads import UploadLimit
from smarter.lib.errors import FieldError, NotFound, ValidationFailed
from smarter.lib.http.body import parse
from smarter.lib.http.openapi import ERRORS

# What a multipart body adds around its file (boundaries, part headers, a few form fields).
# A search query is a question, not a document.
MAX_QUERY_LENGTH = 2000
MAX_TOP_K = 50

DOCS: dict[str, Any] = {"tags": ["knowledge"], "responses": {200: OpenApiTypes.OBJECT, **ERRORS}}


def _knowledge_base(request: Request, name: str) -> KnowledgeBase:
    knowledge_base = selectors.knowledge_base_get(account=request.auth.account, name=name)
    if knowledge_base is None:
        raise NotFound(
            f"KnowledgeBase {name!r} was not found in your account.", context={"kind": "KnowledgeBase", "name": name}
        )
    return knowledge_base


def _document(request: Request, knowledge_base: KnowledgeBase, document_id: str) -> Document:
    document = selectors.document_get(
        account=request.auth.account, knowledge_base=knowledge_base, document_id=int(document_id)
    )
    if document is None:
        raise NotFound(
            f"Document {document_id} was not found in knowledge base {knowledge_base.name!r}.",
            context={"kind": "Document", "knowledgeBase": knowledge_base.name, "id": int(document_id)},
        )
    return document


def document_item(document: Document) -> dict[str, Any]:
    """A document as the list, the detail and the CLI's progress bar show it."""
    return {
        "id": document.pk,
        "name": document.name,
        "status": document.status,
        "progress": document.progress,
        "chunks": document.chunks,
        "pages": document.pages,
        "error": document.error or None,
        "source": document.source,
        "url": document.url or None,
        "contentType": document.content_type or None,
        "size": document.size,
        "createdAt": document.created_at.isoformat(),
        "updatedAt": document.updated_at.isoformat(),
    }


class _Journaled(JournaledView):
    journal_kind = "Document"


class TextDocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    text: str


class UrlDocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)


class DocumentsView(_Journaled):
    """`GET`: the knowledge base's documents, newest first. `POST`: add one (202): a multipart
    `file`, or JSON `{"name", "text"}` or `{"url"}`."""

    # Multipart for files, and the API's own bounded JSON parser for text and URLs.
    parser_classes = [MultiPartParser, *api_settings.DEFAULT_PARSER_CLASSES]
    command = "upload"

    @property
    def max_body_bytes(self) -> int:
        # Text sent as JSON may be as large as a file, plus its quoting.
        return max_request_bytes()

    @extend_schema(summary="A knowledge base's documents, newest first", operation_id="knowledge_documents", **DOCS)
    def get(self, request: Request, name: str) -> Response:
        knowledge_base = _knowledge_base(request, name)
        documents = selectors.documents_of(account=request.auth.account, knowledge_base=knowledge_base)
        return Response({"data": {"items": [document_item(document) for document in documents]}})

    @extend_schema(
        summary="Add a document (multipart file, text or URL); it is ingested in the background",
        operation_id="knowledge_document_add",
        request={"multipart/form-data": OpenApiTypes.OBJECT, "application/json": OpenApiTypes.OBJECT},
        tags=["knowledge"],
        responses={202: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        knowledge_base = _knowledge_base(request, name)
        services.knowledge_request_admit(caller=request.auth)
        if request.content_type.startswith("multipart/"):
            document = self._add_file(request, knowledge_base)
        else:
            document = self._add_json(request, knowledge_base)
        self.journal_name = f"{knowledge_base.name}/{document.name}"
        return Response({"id": document.pk, "name": document.name, "status": document.status}, status=202)

    def _add_file(self, request: Request, knowledge_base: KnowledgeBase) -> Document:
        limit = max_upload_bytes()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > max_request_bytes():
            raise too_large(declared)  # refused before a byte of the body is read
        request._request.upload_handlers.insert(0, UploadLimit(request._request, limit))
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                "Send the document as the multipart field 'file'.", errors=[FieldError("file", "required")]
            )
        return services.document_add_file(
            account=request.auth.account,
            knowledge_base=knowledge_base,
            name=upload.name or "",
            data=upload.read(),
            content_type=upload.content_type,
        )

    def _add_json(self, request: Request, knowledge_base: KnowledgeBase) -> Document:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise ValidationFailed(
                "The body must be a JSON object.", errors=[FieldError("(root)", "expected an object")]
            )
        account = request.auth.account
        if "url" in body:
            given = parse(UrlDocumentBody, body)
            return services.document_add_url(account=account, knowledge_base=knowledge_base, url=given.url)
        if "text" in body or "name" in body:
            text = parse(TextDocumentBody, body)
            return services.document_add_text(
                account=account, knowledge_base=knowledge_base, name=text.name, text=text.text
            )
        raise ValidationFailed(
            "Send a multipart 'file', or JSON with 'name' and 'text', or with 'url'.",
            errors=[FieldError("(root)", "expected a file, {name, text} or {url}")],
        )


class DocumentView(_Journaled):
    """`GET`: one document. `DELETE`: it, its chunks and vectors, and its stored file."""

    command = "delete"

    @extend_schema(summary="One document and its ingestion status", operation_id="knowledge_document_get", **DOCS)
    def get(self, request: Request, name: str, document_id: str) -> Response:
        document = _document(request, _knowledge_base(request, name), document_id)
        return Response({"data": document_item(document)})

    @extend_schema(
        summary="Delete a document, its chunks and vectors", operation_id="knowledge_document_delete", **DOCS
    )
    def delete(self, request: Request, name: str, document_id: str) -> Response:
        document = _document(request, _knowledge_base(request, name), document_id)
        self.journal_name = f"{name}/{document.name}"
        item = document_item(document)
        services.document_delete(document=document)
        return Response({"data": {"deleted": True, "id": item["id"], "name": item["name"]}})


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    query: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH)
    top_k: int | None = Field(None, alias="topK", ge=1, le=MAX_TOP_K)


class SearchView(APIView):
    """`POST`: the chunks that answer a query best, with their documents."""

    @extend_schema(
        summary="Search a knowledge base",
        operation_id="knowledge_search",
        request=OpenApiTypes.OBJECT,
        **DOCS,
    )
    def post(self, request: Request, name: str) -> Response:
        knowledge_base = _knowledge_base(request, name)
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise ValidationFailed(
                "The body must be a JSON object.", errors=[FieldError("(root)", "expected an object")]
            )
        given = parse(SearchBody, body)
        if not given.query.strip():
            raise ValidationFailed("Give a query to search for.", errors=[FieldError("query", "must not be blank")])
        services.knowledge_request_admit(caller=request.auth)
        results = services.knowledge_search(knowledge_base=knowledge_base, query=given.query, top_k=given.top_k)
        return Response({"data": {"results": [result.as_dict() for result in results]}})
