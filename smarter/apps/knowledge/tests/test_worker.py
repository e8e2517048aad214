"""Ingestion on the production column: MariaDB, Redis as the broker and a real Celery worker
process sharing the test database and the knowledge folder. Upload -> ready -> search; a
transient failure retried with backoff until it passes; delete removes the chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import (
    WORKER_BROKER_URL,
    Worker,
    celery_mode,
    mariadb_url_or_skip,
    wait_until,
)
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.knowledge import services
from smarter.apps.knowledge.models import Document
from smarter.apps.knowledge.tests.documents_support import documents_url, indexed, stored
from smarter.apps.knowledge.tests.factories import MANUAL, make_knowledge_base
from smarter.apps.knowledge.tests.test_services import DocumentServer
from smarter.testing.fixtures import flushed_redis_or_skip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(transactional_db: Any, knowledge_dir: Path, smarter_settings: Any) -> Iterator[Worker]:
    database_url = mariadb_url_or_skip()
    flushed_redis_or_skip(WORKER_BROKER_URL)
    smarter_settings.allow_private_hosts = True  # the document server is on loopback
    import os

    saved = {name: os.environ.get(name) for name in ("SMARTER_KNOWLEDGE_DIR", "SMARTER_ALLOW_PRIVATE_HOSTS")}
    os.environ["SMARTER_KNOWLEDGE_DIR"] = str(knowledge_dir)  # the worker's documents and index are ours
    os.environ["SMARTER_ALLOW_PRIVATE_HOSTS"] = "true"
    process = Worker(database_url=database_url, broker_url=WORKER_BROKER_URL, concurrency=1)
    try:
        with celery_mode(eager=False, broker_url=WORKER_BROKER_URL):
            process.start()
            yield process
    finally:
        process.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def member(transactional_db: Any) -> Persona:
    return make_persona(make_account("Acme"), "teammate", Role.MEMBER)


def status_of(document_id: int) -> str:
    return str(Document.objects.values_list("status", flat=True).get(pk=document_id))


def test_a_real_worker_ingests_an_upload_that_search_then_finds_and_delete_removes(
    worker: Worker, member: Persona
) -> None:
    kb = make_knowledge_base(member.account, "manual", chunking={"strategy": "markdown", "size": 64, "overlap": 8})
    client: APIClient = member.client
    response = client.post(documents_url(), data={"name": "gizmo.md", "text": MANUAL}, format="json")
    assert response.status_code == 202
    document_id = response.json()["id"]
    assert wait_until(lambda: status_of(document_id) in ("ready", "failed"), timeout=180)
    document = Document.objects.get(pk=document_id)
    assert (document.status, document.error, document.progress, document.attempts) == ("ready", "", 100, 1)
    assert document.chunks == indexed(kb, document_id) > 0

    results = client.post("/api/v1/knowledge/manual/search/", data={"query": "dishwasher"}, format="json")
    assert results.json()["data"]["results"][0]["document"] == "gizmo.md"

    assert client.delete(f"{documents_url()}{document_id}/").status_code == 200
    assert indexed(kb) == 0
    assert not stored(document.storage_key)


def test_a_real_worker_retries_a_url_that_fails_for_a_while_with_backoff(worker: Worker, member: Persona) -> None:
    kb = make_knowledge_base(member.account, "manual")
    busy = (503, "text/plain", b"busy")
    with DocumentServer() as site:
        site.routes["/gizmo.md"] = [busy, busy, (200, "text/markdown", MANUAL.encode())]
        document = services.document_add_url(account=member.account, knowledge_base=kb, url=f"{site.url}/gizmo.md")
        assert wait_until(lambda: status_of(document.pk) in ("ready", "failed"), timeout=180)
    document.refresh_from_db()
    assert (document.status, document.error, document.attempts) == ("ready", "", 3)
    assert site.hits == {"/gizmo.md": 3}
    assert document.chunks == indexed(kb, document.pk) > 0
