"""The knowledge endpoints over HTTP: the contract's bodies, tenancy for every endpoint (the
outsider finds nothing and changes nothing), field-path errors, 401, 413 and 415."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.knowledge.models import Document, KnowledgeBase
from smarter.apps.knowledge.tests.documents_support import MIB, add_text, documents_url, search, upload
from smarter.apps.knowledge.tests.factories import MANUAL, make_knowledge_base


@pytest.fixture
def manual(owner: Persona) -> KnowledgeBase:
    return make_knowledge_base(owner.account, "manual")


def documents_snapshot() -> list[tuple[Any, ...]]:
    return list(Document.objects.order_by("pk").values_list("pk", "name", "status", "content_hash", "updated_at"))


def without_request_id(context: dict[str, Any]) -> dict[str, Any]:
    """The error's context without the request id every error adds (a value of its own)."""
    return {key: value for key, value in context.items() if key != "requestId"}


def _calls(document_id: int) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    return {
        "list": ("get", documents_url(), None),
        "add": ("post", documents_url(), {"name": "extra.md", "text": "# Extra\n\nMore words."}),
        "get": ("get", f"{documents_url()}{document_id}/", None),
        "search": ("post", "/api/v1/knowledge/manual/search/", {"query": "charging"}),
        "delete": ("delete", f"{documents_url()}{document_id}/", None),
    }


@pytest.mark.parametrize("endpoint", ["list", "add", "get", "search", "delete"])
def test_the_outsider_finds_nothing_at_any_endpoint_and_changes_nothing(
    owner: Persona, outsider: Persona, manual: KnowledgeBase, endpoint: str
) -> None:
    document_id = add_text(owner, "gizmo.md", MANUAL).json()["id"]
    # The outsider's own knowledge base of the same name does not open the owner's.
    make_knowledge_base(outsider.account, "other")
    before = documents_snapshot()
    method, path, body = _calls(document_id)[endpoint]
    response = getattr(outsider.client, method)(path, data=body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["errorClass"] == "NotFound"
    assert without_request_id(response.json()["context"]) == {"kind": "KnowledgeBase", "name": "manual"}
    assert documents_snapshot() == before


@pytest.mark.parametrize("persona", ["owner", "teammate"])
def test_the_owner_and_a_teammate_use_every_endpoint(persona: str, request: pytest.FixtureRequest, manual: Any) -> None:
    caller: Persona = request.getfixturevalue(persona)
    added = add_text(caller, "gizmo.md", MANUAL)
    assert added.status_code == 202
    document_id = added.json()["id"]
    assert added.json() == {"id": document_id, "name": "gizmo.md", "status": "queued"}

    items = caller.client.get(documents_url()).json()["data"]["items"]
    assert [
        (item["id"], item["name"], item["status"], item["chunks"], item["error"], item["progress"]) for item in items
    ] == [(document_id, "gizmo.md", "queued", 0, None, 0)]
    assert {"id", "name", "status", "chunks", "error", "createdAt", "progress"} <= set(items[0])
    one = caller.client.get(f"{documents_url()}{document_id}/").json()["data"]
    assert one == items[0]
    assert search(caller, "charging").json() == {"data": {"results": []}}  # nothing ingested yet
    deleted = caller.client.delete(f"{documents_url()}{document_id}/")
    assert deleted.status_code == 200
    assert not Document.objects.exists()


def test_an_unknown_knowledge_base_or_document_is_not_found(owner: Persona, manual: KnowledgeBase) -> None:
    assert owner.client.get(documents_url("nothing")).status_code == 404
    response = owner.client.get(f"{documents_url()}999999/")
    assert response.status_code == 404
    assert without_request_id(response.json()["context"]) == {
        "kind": "Document",
        "knowledgeBase": "manual",
        "id": 999999,
    }


def test_without_a_key_every_endpoint_answers_401(owner: Persona, manual: KnowledgeBase) -> None:
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.get(documents_url()).status_code == 401
    assert anonymous.post(documents_url(), data={"name": "a.md", "text": "x"}, format="json").status_code == 401
    assert anonymous.post("/api/v1/knowledge/manual/search/", data={"query": "x"}, format="json").status_code == 401
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "notes.md"}, [{"loc": "text", "msg": "Field required"}]),
        ({"name": "", "text": "x"}, [{"loc": "name", "msg": "String should have at least 1 character"}]),
        ({"name": "a.md", "text": "x", "tags": []}, [{"loc": "tags", "msg": "unknown field"}]),
        ({"url": "http://127.0.0.1:9/manual.html"}, None),
        ({"url": "ftp://example.com/manual.txt"}, None),
        ({}, [{"loc": "(root)", "msg": "expected a file, {name, text} or {url}"}]),
    ],
)
def test_a_bad_json_document_is_refused_at_its_field_and_changes_nothing(
    owner: Persona, manual: KnowledgeBase, body: dict[str, Any], errors: list[dict[str, str]] | None
) -> None:
    response = owner.client.post(documents_url(), data=body, format="json")
    assert response.status_code == 400
    if errors is None:  # the outbound guard's own sentence, at the field
        assert [error["loc"] for error in response.json()["errors"]] == ["url"]
    else:
        assert response.json()["errors"] == errors
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, [{"loc": "query", "msg": "Field required"}]),
        ({"query": ""}, [{"loc": "query", "msg": "String should have at least 1 character"}]),
        ({"query": "   "}, [{"loc": "query", "msg": "must not be blank"}]),
        ({"query": "x", "topK": 0}, [{"loc": "topK", "msg": "Input should be greater than or equal to 1"}]),
        ({"query": "x", "topK": 51}, [{"loc": "topK", "msg": "Input should be less than or equal to 50"}]),
        ({"query": "x", "mode": "dense"}, [{"loc": "mode", "msg": "unknown field"}]),
    ],
)
def test_a_bad_search_is_refused_at_its_field(
    owner: Persona, manual: KnowledgeBase, body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    response = owner.client.post("/api/v1/knowledge/manual/search/", data=body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors


def test_a_body_that_is_neither_multipart_nor_json_is_refused_with_415(owner: Persona, manual: KnowledgeBase) -> None:
    response = owner.client.post(documents_url(), data="plain words", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["errorClass"] == "UnsupportedMediaType"
    assert not Document.objects.exists()


def test_a_multipart_body_without_a_file_is_refused_at_the_field(owner: Persona, manual: KnowledgeBase) -> None:
    response = owner.client.post(documents_url(), data={"name": "x"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": "file", "msg": "required"}]


def test_an_upload_declared_larger_than_the_limit_is_refused_before_its_body_is_read(
    owner: Persona, manual: KnowledgeBase, smarter_settings: Any, knowledge_dir: Any
) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    body = b"--b\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\nabc\r\n--b--\r\n"
    response = owner.client.generic(
        "POST",
        documents_url(),
        data=body,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(60 * MIB),
    )
    assert response.status_code == 413
    body = response.json()
    assert body == {
        "errorClass": "PayloadTooLarge",
        "status": 413,
        "description": "A document may be at most 1 MiB.",
        "context": {"limit": MIB, "size": 60 * MIB, "requestId": response["X-Request-ID"]},
    }
    assert not Document.objects.exists()
    assert not knowledge_dir.exists() or not any(path.is_file() for path in knowledge_dir.rglob("*"))


def test_a_file_past_the_limit_is_refused_while_it_streams_in(
    owner: Persona, manual: KnowledgeBase, smarter_settings: Any, knowledge_dir: Any
) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    # Within the room the declared length leaves for multipart framing: only counting the
    # file's bytes as they arrive finds it too large.
    file = SimpleUploadedFile("big.txt", b"a" * (MIB + 10_000), content_type="text/plain")
    response = owner.client.post(documents_url(), data={"file": file}, format="multipart")
    assert response.status_code == 413
    assert response.json()["description"] == "A document may be at most 1 MiB."
    assert not Document.objects.exists()
    assert not knowledge_dir.exists() or not any(path.is_file() for path in knowledge_dir.rglob("*"))


def test_a_file_at_the_limit_is_accepted(owner: Persona, manual: KnowledgeBase, smarter_settings: Any) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    response = upload(owner, "exact.txt", b"a" * MIB, content_type="text/plain")
    assert response.status_code == 202
    assert Document.objects.get().size == MIB


def test_uploads_and_deletes_are_journaled(owner: Persona, manual: KnowledgeBase) -> None:
    document_id = add_text(owner, "gizmo.md", MANUAL).json()["id"]
    upload(owner, "setup.exe", b"MZ" + bytes(range(256)))
    owner.client.delete(f"{documents_url()}{document_id}/")
    entries = JournalEntry.objects.filter(account=owner.account).order_by("id")
    assert [(e.command, e.kind, e.name, e.status_code) for e in entries] == [
        ("upload", "Document", "manual/gizmo.md", 202),
        ("upload", "Document", "manual", 415),
        ("delete", "Document", "manual/gizmo.md", 200),
    ]
