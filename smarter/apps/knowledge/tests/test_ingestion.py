"""Ingestion as the embedded default runs it (the task eagerly, after the upload commits):
upload -> ready -> searchable; each bad input a failed document with its exact error and nothing
indexed; idempotency; re-ingestion on change; delete removes chunks and the stored file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.knowledge import services
from smarter.apps.knowledge.models import Document, KnowledgeBase
from smarter.apps.knowledge.parsing import ParseError, parse_document
from smarter.apps.knowledge.tests.documents_support import (
    add_text,
    corrupt_pdf,
    document,
    encrypted_pdf,
    indexed,
    search,
    stored,
    upload,
    zip_bomb_docx,
)
from smarter.apps.knowledge.tests.factories import MANUAL, RECIPES, make_knowledge_base

Commit = Callable[..., Any]


@pytest.fixture
def manual(owner: Persona) -> KnowledgeBase:
    return make_knowledge_base(owner.account, "manual", chunking={"strategy": "markdown", "size": 64, "overlap": 8})


def test_an_uploaded_document_becomes_ready_and_search_finds_it(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(owner, "gizmo.md", MANUAL.encode(), content_type="text/markdown")
    assert response.status_code == 202
    assert response.json() == {"id": response.json()["id"], "name": "gizmo.md", "status": "queued"}
    ready = document(response.json()["id"])
    assert (ready.status, ready.progress, ready.error, ready.content_type) == ("ready", 100, "", "md")
    assert ready.chunks == indexed(manual, ready.pk) > 0

    listed = owner.client.get(f"/api/v1/knowledge/manual/documents/{ready.pk}/").json()["data"]
    assert (listed["status"], listed["chunks"], listed["error"], listed["progress"]) == (
        "ready",
        ready.chunks,
        None,
        100,
    )

    results = search(owner, "how long does charging take?").json()["data"]["results"]
    assert results[0]["document"] == "gizmo.md"
    assert results[0]["documentId"] == ready.pk
    assert "90 minutes" in results[0]["text"]
    assert sorted(results[0]) == ["chunk", "document", "documentId", "score", "text"]


def _expected_parse_error(data: bytes, doc_type: str) -> str:
    with pytest.raises(ParseError) as raised:
        parse_document(data, doc_type=doc_type)
    return str(raised.value)


@pytest.mark.parametrize(
    ("filename", "make", "doc_type"),
    [
        ("locked.pdf", encrypted_pdf, "pdf"),
        ("broken.pdf", corrupt_pdf, "pdf"),
        ("bomb.docx", zip_bomb_docx, "docx"),
        ("empty.txt", lambda: b"", "txt"),
    ],
    ids=["encrypted-pdf", "corrupt-pdf", "zip-bomb-docx", "zero-bytes"],
)
def test_a_bad_document_fails_with_its_exact_error_and_nothing_is_indexed(
    owner: Persona,
    manual: KnowledgeBase,
    django_capture_on_commit_callbacks: Commit,
    filename: str,
    make: Callable[[], bytes],
    doc_type: str,
) -> None:
    data = make()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(owner, filename, data)
    assert response.status_code == 202, response.content
    failed = document(response.json()["id"])
    assert failed.status == "failed"
    assert failed.error == _expected_parse_error(data, doc_type)
    assert (failed.chunks, indexed(manual)) == (0, 0)
    item = owner.client.get("/api/v1/knowledge/manual/documents/").json()["data"]["items"][0]
    assert (item["status"], item["error"], item["chunks"]) == ("failed", failed.error, 0)


def test_a_file_over_the_upload_limit_is_refused_with_413_and_changes_nothing(
    owner: Persona, manual: KnowledgeBase, knowledge_dir: Any
) -> None:
    response = upload(owner, "huge.txt", b"a" * (60 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["description"] == "A document may be at most 50 MiB."
    assert not Document.objects.exists()
    assert not any(path.is_file() for path in knowledge_dir.rglob("*") if path.name != "index.sqlite3")


def test_an_unknown_type_is_refused_with_415_and_changes_nothing(
    owner: Persona, manual: KnowledgeBase, knowledge_dir: Any
) -> None:
    response = upload(owner, "setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 4)
    assert response.status_code == 415
    body = response.json()
    assert body["errorClass"] == "UnsupportedMediaType"
    assert body["errors"] == [{"loc": "file", "msg": "must be txt, md, html, pdf or docx"}]
    assert not Document.objects.exists()
    assert not any(path.is_file() for path in knowledge_dir.rglob("*") if path.name != "index.sqlite3")


def test_the_same_content_twice_is_one_document_and_is_not_ingested_again(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(owner, "gizmo.md", MANUAL.encode()).json()
    ready = document(first["id"])
    chunks = indexed(manual)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = upload(owner, "gizmo-copy.md", MANUAL.encode())
    assert again.status_code == 202
    assert again.json() == {"id": first["id"], "name": "gizmo.md", "status": "ready"}
    assert callbacks == []  # nothing queued
    assert Document.objects.count() == 1
    assert indexed(manual) == chunks
    # A task delivered twice does nothing the second time.
    services.document_ingest(document_id=ready.pk)
    assert document(ready.pk).updated_at == ready.updated_at
    assert document(ready.pk).attempts == 1


def test_the_same_name_with_new_content_is_ingested_again_and_the_old_content_is_gone(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = add_text(owner, "notes.md", MANUAL).json()
    old_key = document(first["id"]).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        second = add_text(owner, "notes.md", RECIPES).json()
    assert second["id"] == first["id"]
    changed = document(first["id"])
    assert changed.status == "ready"
    assert changed.chunks == indexed(manual) > 0
    assert not stored(old_key)
    assert stored(changed.storage_key)
    texts = [result["text"] for result in search(owner, "charging the Gizmo").json()["data"]["results"]]
    assert texts and not any("blue dock" in text for text in texts)


def test_a_changed_document_that_fails_leaves_none_of_its_old_chunks(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(owner, "manual.pdf", encrypted_pdf()).json()
        add_text(owner, "gizmo.md", MANUAL)
    assert document(first["id"]).status == "failed"
    gizmo = Document.objects.get(name="gizmo.md")
    before = indexed(manual, gizmo.pk)
    with django_capture_on_commit_callbacks(execute=True):
        upload(owner, "gizmo.md", corrupt_pdf())
    gizmo.refresh_from_db()
    assert gizmo.status == "failed"
    assert before > 0 and indexed(manual, gizmo.pk) == 0 and indexed(manual) == 0


def test_deleting_a_document_removes_its_chunks_and_its_stored_file(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        gizmo = add_text(owner, "gizmo.md", MANUAL).json()
        soup = add_text(owner, "soup.md", RECIPES).json()
    key = document(gizmo["id"]).storage_key
    soup_chunks = indexed(manual, soup["id"])
    response = owner.client.delete(f"/api/v1/knowledge/manual/documents/{gizmo['id']}/")
    assert response.status_code == 200
    assert response.json()["data"] == {"deleted": True, "id": gizmo["id"], "name": "gizmo.md"}
    assert indexed(manual, gizmo["id"]) == 0
    assert indexed(manual) == soup_chunks > 0
    assert not stored(key)
    assert owner.client.get(f"/api/v1/knowledge/manual/documents/{gizmo['id']}/").status_code == 404
    assert all(result["document"] == "soup.md" for result in search(owner, "Gizmo charging").json()["data"]["results"])


def test_changing_the_chunking_re_ingests_every_document(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        gizmo = add_text(owner, "gizmo.md", MANUAL).json()
    before = document(gizmo["id"]).chunks
    manifest = {
        "apiVersion": "smarter.sh/v1",
        "kind": "KnowledgeBase",
        "metadata": {"name": "manual"},
        "spec": {"chunking": {"strategy": "recursive", "size": 16, "overlap": 0}},
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.client.post("/api/v1/cli/apply/", data=manifest, format="json").status_code == 200
    after = document(gizmo["id"])
    assert after.status == "ready"
    assert after.attempts == 1  # counted afresh for the new chunking
    assert after.chunks > before
    assert indexed(manual) == after.chunks
    status = owner.client.get("/api/v1/cli/describe/knowledgebase/?name=manual").json()["data"]["status"]
    assert status == {"documents": 1, "chunks": after.chunks, "ready": 1, "failed": 0}


def test_deleting_the_knowledge_base_removes_documents_files_and_chunks(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        gizmo = add_text(owner, "gizmo.md", MANUAL).json()
    key = document(gizmo["id"]).storage_key
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.client.post("/api/v1/cli/delete/knowledgebase/?name=manual").status_code == 200
    assert not Document.objects.exists()
    assert indexed(manual) == 0
    assert not stored(key)
