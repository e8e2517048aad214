"""The knowledge services below the API: URL documents fetched through the outbound guard from a
real server on loopback, retries of transient failures, search results mapped to documents,
parent-child sections, and selectors that never reach another account's rows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.services import provider_create
from smarter.apps.knowledge import selectors, services
from smarter.apps.knowledge.models import KnowledgeBase
from smarter.apps.knowledge.tests.documents_support import indexed, stored
from smarter.apps.knowledge.tests.factories import MANUAL, make_knowledge_base
from smarter.lib.errors import ValidationFailed

Commit = Callable[..., Any]
Answer = tuple[int, str, bytes]


class DocumentServer:
    """A real HTTP server on loopback answering each path with a scripted status, type and body;
    a list of answers is given one per request, the last one from then on."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer | list[Answer]] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                answer = routes.get(self.path, (404, "text/plain", b"not here"))
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                status, content_type, body = answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DocumentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(smarter_settings: Any) -> Iterator[DocumentServer]:
    smarter_settings.allow_private_hosts = True  # the test server is on loopback
    with DocumentServer() as server:
        yield server


@pytest.fixture
def manual(owner: Persona) -> KnowledgeBase:
    return make_knowledge_base(owner.account, "manual", chunking={"strategy": "markdown", "size": 64, "overlap": 8})


def test_a_url_document_is_fetched_stored_and_ingested(
    owner: Persona, manual: KnowledgeBase, site: DocumentServer, django_capture_on_commit_callbacks: Commit
) -> None:
    site.routes["/gizmo.md"] = (200, "text/markdown; charset=utf-8", MANUAL.encode())
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_add_url(account=owner.account, knowledge_base=manual, url=f"{site.url}/gizmo.md")
    document.refresh_from_db()
    assert (document.name, document.source, document.status, document.content_type) == (
        f"{site.url}/gizmo.md",
        "url",
        "ready",
        "md",
    )
    assert document.size == len(MANUAL.encode())
    assert stored(document.storage_key)
    assert document.chunks == indexed(manual, document.pk) > 0
    results = services.knowledge_search(knowledge_base=manual, query="dishwasher")
    assert results[0].document == f"{site.url}/gizmo.md"


def test_a_url_that_answers_404_fails_at_once_with_its_status(
    owner: Persona, manual: KnowledgeBase, site: DocumentServer, django_capture_on_commit_callbacks: Commit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_add_url(account=owner.account, knowledge_base=manual, url=f"{site.url}/gone")
    document.refresh_from_db()
    assert (document.status, document.error, document.attempts) == (
        "failed",
        "The URL answered 404; check that it is public.",
        1,
    )
    assert site.hits == {"/gone": 1}
    assert indexed(manual) == 0


def test_without_a_broker_a_url_that_answers_503_fails_after_one_attempt_with_the_reason(
    owner: Persona, manual: KnowledgeBase, site: DocumentServer, django_capture_on_commit_callbacks: Commit
) -> None:
    # Eager tasks run inside the request that queued them: no retry waits there (a real worker
    # retries with backoff, see test_worker.py).
    site.routes["/busy"] = (503, "text/plain", b"try later")
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_add_url(account=owner.account, knowledge_base=manual, url=f"{site.url}/busy")
    document.refresh_from_db()
    assert (document.status, document.error, document.attempts) == ("failed", "The URL answered 503.", 1)
    assert site.hits == {"/busy": 1}
    assert indexed(manual) == 0


def test_a_url_past_the_upload_limit_fails_without_being_stored(
    owner: Persona,
    manual: KnowledgeBase,
    site: DocumentServer,
    smarter_settings: Any,
    django_capture_on_commit_callbacks: Commit,
) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    site.routes["/big.txt"] = (200, "text/plain", b"a" * (1024 * 1024 + 1))
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_add_url(account=owner.account, knowledge_base=manual, url=f"{site.url}/big.txt")
    document.refresh_from_db()
    assert (document.status, document.error, document.storage_key) == (
        "failed",
        "The URL's document is larger than 1 MiB.",
        "",
    )


def test_a_url_to_a_private_address_is_refused_by_the_guard_when_it_is_fetched(
    owner: Persona,
    manual: KnowledgeBase,
    site: DocumentServer,
    smarter_settings: Any,
    django_capture_on_commit_callbacks: Commit,
) -> None:
    # Accepted while private hosts were allowed, fetched after they no longer are.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        document = services.document_add_url(account=owner.account, knowledge_base=manual, url=f"{site.url}/x.md")
    smarter_settings.allow_private_hosts = False
    for callback in callbacks:
        callback()
    document.refresh_from_db()
    assert document.status == "failed"
    assert document.error.startswith("The URL may not be fetched: ")
    assert site.hits == {}


def test_parent_child_search_returns_the_section_around_the_matched_chunk(
    owner: Persona, django_capture_on_commit_callbacks: Commit
) -> None:
    kb = make_knowledge_base(owner.account, "sections", chunking={"strategy": "parent_child", "size": 24, "overlap": 0})
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_add_text(account=owner.account, knowledge_base=kb, name="gizmo.md", text=MANUAL)
    results = services.knowledge_search(knowledge_base=kb, query="dishwasher ruins the motor", top_k=1)
    assert [(result.document, result.document_id) for result in results] == [("gizmo.md", document.pk)]
    assert "Wipe the Gizmo with a dry cloth." in results[0].text
    assert "water ruins the motor" in results[0].text


def test_selectors_never_reach_another_accounts_rows(owner: Persona, outsider: Persona, manual: KnowledgeBase) -> None:
    document = services.document_add_text(account=owner.account, knowledge_base=manual, name="a.md", text="words")
    assert selectors.knowledge_base_get(account=outsider.account, name="manual") is None
    assert list(selectors.knowledge_bases_of(outsider.account)) == []
    # Even handed the owner's knowledge base, the outsider's account sees none of its documents.
    assert list(selectors.documents_of(account=outsider.account, knowledge_base=manual)) == []
    assert selectors.document_get(account=outsider.account, knowledge_base=manual, document_id=document.pk) is None
    assert selectors.document_get(account=owner.account, knowledge_base=manual, document_id=document.pk) == document


def test_a_document_of_a_deleted_knowledge_base_is_skipped_by_a_late_task(
    owner: Persona, manual: KnowledgeBase
) -> None:
    document = services.document_add_text(account=owner.account, knowledge_base=manual, name="a.md", text="words")
    services.knowledge_base_delete(knowledge_base=manual)
    assert services.document_ingest(document_id=document.pk) is None


def test_creating_a_knowledge_base_that_embeds_with_another_accounts_provider_is_refused(
    owner: Persona, outsider: Persona
) -> None:
    # Every caller of the service, not only the manifest's, is held to the account's Providers.
    provider_create(account=outsider.account, name="house_llm", base_url="http://127.0.0.1:9/v1", default_model="x")
    with pytest.raises(ValidationFailed) as refused:
        make_knowledge_base(owner.account, "manual", embedding={"provider": "house_llm", "model": "e5"})
    assert [error.as_dict() for error in refused.value.errors] == [
        {"loc": "spec.embedding.provider", "msg": "must be local or a Provider of your account; 'house_llm' is none"}
    ]
    assert not KnowledgeBase.objects.exists()
