"""Knowledge bases in the console: the list with its counts, a knowledge base's page, its
documents added (files, a text, a URL), refused (wrong type, too large, no CSRF token) with
nothing stored, deleted and searched, each journaled as the API journals it; the owner and a
teammate use every route, an outsider finds none of them (404) and changes nothing.

Ingestion runs as the embedded default runs it: eagerly, once the request's transaction
commits (`django_capture_on_commit_callbacks` commits it here); without that a document stays
queued, which is how the page's refreshing state is seen.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.dashboard.tests.helpers import signed_in
from smarter.apps.knowledge import services
from smarter.apps.knowledge.models import Document, KnowledgeBase
from smarter.apps.knowledge.tests.documents_support import MIB, indexed
from smarter.apps.knowledge.tests.factories import MANUAL, RECIPES, make_knowledge_base

pytestmark = pytest.mark.django_db

BASE = "/dashboard/knowledge/manual/"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def knowledge_dir(smarter_settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    smarter_settings.knowledge_dir = folder
    return folder


@pytest.fixture
def manual(owner: Persona) -> KnowledgeBase:
    return make_knowledge_base(
        owner.account, "manual", chunking={"strategy": "markdown", "size": 64, "overlap": 8}, description="The manual"
    )


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def stored_files(folder: Path) -> list[Path]:
    return (
        [path for path in folder.rglob("*") if path.is_file() and "index" not in path.name] if folder.exists() else []
    )


def documents_snapshot() -> list[tuple[Any, ...]]:
    return list(Document.objects.order_by("pk").values_list("pk", "name", "status", "content_hash", "updated_at"))


def journal(persona: Persona) -> list[tuple[str, str, str, int, str]]:
    entries = JournalEntry.objects.filter(account=persona.account).order_by("id")
    return [(e.command, e.kind, e.name, e.status_code, e.user.username if e.user else "") for e in entries]


def upload(client: Client, *files: tuple[str, bytes], json: bool = True, kb: str = "manual") -> Any:
    uploads = [SimpleUploadedFile(name, data, content_type="application/octet-stream") for name, data in files]
    extra = JSON if json else {}
    return client.post(f"/dashboard/knowledge/{kb}/documents/", {"file": uploads}, **extra)


# --- the owner and a teammate -----------------------------------------------------------------
@pytest.mark.parametrize("persona", ["owner", "teammate"])
def test_the_owner_and_a_teammate_add_search_and_delete_documents_in_the_console(
    persona: str, request: pytest.FixtureRequest, manual: KnowledgeBase, django_capture_on_commit_callbacks: Any
) -> None:
    who: Persona = request.getfixturevalue(persona)
    client = signed_in(who)

    with django_capture_on_commit_callbacks(execute=True):
        added = upload(client, ("gizmo.md", MANUAL.encode()))
    assert added.status_code == 202
    gizmo = Document.objects.get(name="gizmo.md")
    assert added.json() == {"id": gizmo.pk, "name": "gizmo.md", "status": "queued"}
    gizmo.refresh_from_db()
    assert (gizmo.status, gizmo.error) == ("ready", "")
    assert gizmo.chunks == indexed(manual, gizmo.pk) > 0

    with django_capture_on_commit_callbacks(execute=True):
        text = client.post(f"{BASE}documents/", {"name": "soup.md", "text": RECIPES})
    assert (text.status_code, text["Location"]) == (302, f"{BASE}#documents")
    soup = Document.objects.get(name="soup.md")
    assert (soup.source, soup.status) == ("text", "ready")

    listed = text_of(client.get("/dashboard/knowledge/"))
    row = listed[listed.index('data-knowledge-base="manual"') :]
    row = row[: row.index("</tr>")]
    chunks = gizmo.chunks + soup.chunks
    assert re.findall(r'class="num (\w+)">([^<]*)<', row) == [
        ("documents", "2"),
        ("chunks", str(chunks)),
        ("ready", "2"),
        ("failed", "0"),
    ]
    assert "local/all-MiniLM-L6-v2" in row

    page = client.get(BASE)
    assert page.status_code == 200
    shown = text_of(page)
    assert [(d.name, d.status, d.chunks) for d in page.context["documents"]] == [
        ("soup.md", "ready", soup.chunks),
        ("gizmo.md", "ready", gizmo.chunks),
    ]
    assert 'data-pending="true"' not in shown and 'http-equiv="refresh"' not in shown
    assert 'id="setting-chunking">markdown · 64 tokens, 8 overlap<' in shown
    assert 'id="kpi-chunks">' + str(chunks) + "<" in shown

    found = client.post(f"{BASE}search/", {"query": "How long does a full charge take?", "topK": "2"})
    assert found.status_code == 200
    expected = services.knowledge_search(knowledge_base=manual, query="How long does a full charge take?", top_k=2)
    results = found.context["search"]["results"]
    assert [(r.document, r.chunk, r.score) for r in results] == [(e.document, e.chunk, e.score) for e in expected]
    assert results[0].document == "gizmo.md" and "90 minutes" in results[0].text
    shown = text_of(found)
    assert re.findall(r'class="strong result-document">([^<]+)<', shown) == [e.document for e in expected]
    assert re.findall(r'class="pill result-score">([^<]+)<', shown) == [f"{e.score:.4f}" for e in expected]

    deleted = client.post(f"{BASE}documents/{gizmo.pk}/delete/")
    assert (deleted.status_code, deleted["Location"]) == (302, f"{BASE}#documents")
    assert list(Document.objects.values_list("name", flat=True)) == ["soup.md"]
    assert indexed(manual, gizmo.pk) == 0

    username = who.user.username
    assert journal(who) == [
        ("upload", "Document", "manual/gizmo.md", 202, username),
        ("upload", "Document", "manual/soup.md", 202, username),
        ("delete", "Document", "manual/gizmo.md", 200, username),
    ]


def test_the_documents_refresh_while_one_is_queued(owner: Persona, manual: KnowledgeBase) -> None:
    # No commit, so ingestion never starts: the document stays queued.
    client = signed_in(owner)
    assert upload(client, ("gizmo.md", MANUAL.encode())).status_code == 202

    page = text_of(client.get(BASE))
    assert 'data-pending="true"' in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert 'data-document="gizmo.md" data-status="queued"' in page

    fragment = client.get(f"{BASE}documents/")
    assert fragment.status_code == 200
    body = text_of(fragment)
    assert body.startswith(f'<div id="documents-panel" data-refresh="{BASE}documents/" data-pending="true">')
    assert "<html" not in body
    assert 'data-document="gizmo.md" data-status="queued"' in body


def test_several_files_in_one_plain_form_each_become_a_document(
    owner: Persona, manual: KnowledgeBase, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(signed_in(owner), ("gizmo.md", MANUAL.encode()), ("soup.txt", RECIPES.encode()), json=False)
    assert (response.status_code, response["Location"]) == (302, f"{BASE}#documents")
    assert sorted(Document.objects.values_list("name", "content_type", "status")) == [
        ("gizmo.md", "md", "ready"),
        ("soup.txt", "txt", "ready"),
    ]
    assert [entry[2] for entry in journal(owner)] == ["manual/gizmo.md", "manual/soup.txt"]


def test_a_url_document_is_added_and_a_refused_url_is_shown_at_its_field(owner: Persona, manual: KnowledgeBase) -> None:
    client = signed_in(owner)
    refused = client.post(f"{BASE}documents/", {"url": "http://127.0.0.1:9/manual.html"})
    assert refused.status_code == 400
    shown = text_of(refused)
    assert '<span class="mono">url</span>:' in shown
    assert 'value="http://127.0.0.1:9/manual.html"' in shown  # the form keeps what was typed
    assert not Document.objects.exists()

    added = client.post(f"{BASE}documents/", {"url": "https://docs.example.com/gizmo.html"})
    assert added.status_code == 302
    document = Document.objects.get()
    assert (document.name, document.source, document.url) == (
        "https://docs.example.com/gizmo.html",
        "url",
        "https://docs.example.com/gizmo.html",
    )
    assert journal(owner) == [
        ("upload", "Document", "manual", 400, "owner"),
        ("upload", "Document", "manual/https://docs.example.com/gizmo.html", 202, "owner"),
    ]


# --- refused uploads --------------------------------------------------------------------------
def test_a_file_of_the_wrong_type_is_refused_with_the_api_envelope_and_nothing_is_stored(
    owner: Persona, manual: KnowledgeBase, knowledge_dir: Path
) -> None:
    response = upload(signed_in(owner), ("setup.exe", b"MZ" + bytes(range(256))))
    assert response.status_code == 415
    body = response.json()
    assert (body["errorClass"], body["status"]) == ("UnsupportedMediaType", 415)
    assert body["description"].startswith("“setup.exe” is not a supported document type;")
    assert body["errors"] == [{"loc": "file", "msg": "must be txt, md, html, pdf or docx"}]
    assert not Document.objects.exists()
    assert stored_files(knowledge_dir) == []
    assert journal(owner) == [("upload", "Document", "manual", 415, "owner")]


def test_a_plain_form_with_a_wrong_file_shows_the_error_on_the_page(owner: Persona, manual: KnowledgeBase) -> None:
    response = upload(signed_in(owner), ("archive.pdf", b"not a pdf at all"), json=False)
    assert response.status_code == 415
    shown = text_of(response)
    assert "“archive.pdf” is declared as a PDF but its content is not one;" in shown
    assert '<span class="mono">file</span>: must be txt, md, html, pdf or docx' in shown
    assert not Document.objects.exists()


def test_a_file_past_the_limit_is_refused_while_it_streams_in_and_nothing_is_stored(
    owner: Persona, manual: KnowledgeBase, smarter_settings: Any, knowledge_dir: Path
) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    response = upload(signed_in(owner), ("big.txt", b"a" * (MIB + 10_000)))
    assert response.status_code == 413
    body = response.json()
    assert (body["errorClass"], body["description"]) == ("PayloadTooLarge", "A document may be at most 1 MiB.")
    assert not Document.objects.exists()
    assert stored_files(knowledge_dir) == []


def test_an_upload_declared_larger_than_the_limit_is_refused_before_its_body_is_read(
    owner: Persona, manual: KnowledgeBase, smarter_settings: Any, knowledge_dir: Path
) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    body = b"--b\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\nabc\r\n--b--\r\n"
    response = signed_in(owner).generic(
        "POST",
        f"{BASE}documents/",
        data=body,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(60 * MIB),
        **JSON,
    )
    assert response.status_code == 413
    assert response.json() == {
        "errorClass": "PayloadTooLarge",
        "status": 413,
        "description": "A document may be at most 1 MiB.",
        "context": {"limit": MIB, "size": 60 * MIB},
    }
    assert not Document.objects.exists()
    assert stored_files(knowledge_dir) == []
    # Refused before the CSRF check could tell it was the user's own request: not journaled.
    assert journal(owner) == []


def test_a_file_at_the_limit_is_accepted(owner: Persona, manual: KnowledgeBase, smarter_settings: Any) -> None:
    smarter_settings.knowledge_max_upload_mib = 1
    response = upload(signed_in(owner), ("exact.txt", b"a" * MIB))
    assert response.status_code == 202
    assert Document.objects.get().size == MIB


def test_an_upload_without_the_csrf_token_is_refused_and_nothing_is_stored(
    owner: Persona, manual: KnowledgeBase, knowledge_dir: Path
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)  # type: ignore[arg-type]
    page = client.get(BASE)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None

    forged = upload(client, ("gizmo.md", MANUAL.encode()))
    assert forged.status_code == 403
    assert not Document.objects.exists()
    assert stored_files(knowledge_dir) == []

    file = SimpleUploadedFile("gizmo.md", MANUAL.encode())
    sent = client.post(f"{BASE}documents/", {"file": file}, HTTP_X_CSRFTOKEN=token.group(1), **JSON)
    assert sent.status_code == 202
    assert list(Document.objects.values_list("name", flat=True)) == ["gizmo.md"]


@pytest.mark.parametrize(
    ("form", "message", "loc"),
    [
        ({"query": "   "}, "Give a query to search for.", "query"),
        ({"query": "charging", "topK": "0"}, "Show between 1 and 50 results.", "topK"),
        ({"query": "charging", "topK": "many"}, "Show between 1 and 50 results.", "topK"),
    ],
)
def test_a_bad_search_is_refused_at_its_field(
    owner: Persona, manual: KnowledgeBase, form: dict[str, str], message: str, loc: str
) -> None:
    response = signed_in(owner).post(f"{BASE}search/", form)
    assert response.status_code == 400
    assert response.context["search_error"] == message
    assert [problem["loc"] for problem in response.context["search_field_errors"]] == [loc]
    assert f'<span class="mono">{loc}</span>:' in text_of(response)


def test_a_text_without_a_name_is_refused_at_its_field(owner: Persona, manual: KnowledgeBase) -> None:
    response = signed_in(owner).post(f"{BASE}documents/", {"name": "", "text": "Some words."})
    assert response.status_code == 400
    assert response.context["field_errors"] == [{"loc": "name", "msg": "must not be empty"}]
    assert "Some words." in text_of(response)  # kept in the form
    assert not Document.objects.exists()


# --- the outsider -----------------------------------------------------------------------------
def _outsider_calls(document_id: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "page": ("get", BASE, {}),
        "documents": ("get", f"{BASE}documents/", {}),
        "add text": ("post", f"{BASE}documents/", {"name": "extra.md", "text": "# Extra"}),
        "upload": ("post", f"{BASE}documents/", {"file": SimpleUploadedFile("extra.md", b"# Extra")}),
        "delete": ("post", f"{BASE}documents/{document_id}/delete/", {}),
        "search": ("post", f"{BASE}search/", {"query": "charging"}),
    }


@pytest.mark.parametrize("route", ["page", "documents", "add text", "upload", "delete", "search"])
def test_the_outsider_finds_no_route_of_another_accounts_knowledge_base_and_changes_nothing(
    owner: Persona, outsider: Persona, manual: KnowledgeBase, route: str
) -> None:
    document = services.document_add_text(account=owner.account, knowledge_base=manual, name="gizmo.md", text=MANUAL)
    make_knowledge_base(outsider.account, "other")
    before = documents_snapshot()
    method, path, data = _outsider_calls(document.pk)[route]
    response = getattr(signed_in(outsider), method)(path, data)
    assert response.status_code == 404
    assert documents_snapshot() == before


def test_the_outsider_lists_only_their_own_knowledge_bases(
    owner: Persona, outsider: Persona, manual: KnowledgeBase
) -> None:
    make_knowledge_base(outsider.account, "other")
    response = signed_in(outsider).get("/dashboard/knowledge/")
    assert [kb.name for kb in response.context["knowledge_bases"]] == ["other"]
    assert 'data-knowledge-base="manual"' not in response.content.decode()


def test_the_outsider_cannot_delete_a_document_through_their_own_knowledge_base(
    owner: Persona, outsider: Persona, manual: KnowledgeBase
) -> None:
    document = services.document_add_text(account=owner.account, knowledge_base=manual, name="gizmo.md", text=MANUAL)
    make_knowledge_base(outsider.account, "manual")
    response = signed_in(outsider).post(f"{BASE}documents/{document.pk}/delete/")
    assert response.status_code == 404
    assert Document.objects.filter(pk=document.pk).exists()


# --- the pages' frame ---------------------------------------------------------------------------
def test_the_list_links_to_the_generic_new_form_and_says_when_there_is_nothing(owner: Persona) -> None:
    shown = signed_in(owner).get("/dashboard/knowledge/").content.decode()
    assert 'id="no-knowledge-bases"' in shown
    assert 'href="/dashboard/manifests/KnowledgeBase/new/"' in shown


def test_the_page_links_to_the_generic_forms_and_offers_the_accepted_types(
    owner: Persona, manual: KnowledgeBase
) -> None:
    shown = signed_in(owner).get(BASE).content.decode()
    for action in ("manifest", "edit", "delete"):
        assert f'href="/dashboard/manifests/KnowledgeBase/manual/{action}/"' in shown
    assert 'accept=".txt,.text,.md,.markdown,.html,.htm,.pdf,.docx"' in shown
    assert f'data-max-bytes="{50 * MIB}" data-max-mib="50"' in shown
    assert "at most 50 MiB each" in shown


def test_the_console_navigation_offers_knowledge_and_channels(owner: Persona, manual: KnowledgeBase) -> None:
    shown = signed_in(owner).get(BASE).content.decode()
    assert '<a href="/dashboard/knowledge/" class="active">Knowledge</a>' in shown
    assert '<a href="/dashboard/channels/" class="">Channels</a>' in shown


def test_an_anonymous_visitor_is_sent_to_sign_in_and_nothing_is_stored(manual: KnowledgeBase) -> None:
    response = Client().post(f"{BASE}documents/", {"name": "a.md", "text": "x"})
    assert (response.status_code, response["Location"]) == (302, f"/login/?next={BASE}documents/")
    assert not Document.objects.exists()
