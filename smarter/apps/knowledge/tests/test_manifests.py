"""Kind KnowledgeBase through the cli endpoints: apply, get, describe, delete, its example and
schema, field-path validation errors, roles, tenancy and the journal."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.services import provider_create
from smarter.apps.knowledge.models import KnowledgeBase
from smarter.apps.knowledge.tests.factories import knowledge_base_manifest

APPLY = "/api/v1/cli/apply/"
DEFAULT_SPEC = {
    "embedding": {"provider": "local", "model": "all-MiniLM-L6-v2"},
    "chunking": {"strategy": "recursive", "size": 256, "overlap": 32},
    "retrieval": {"mode": "hybrid", "topK": 5},
}
EMPTY_STATUS = {"documents": 0, "chunks": 0, "ready": 0, "failed": 0}


def apply(persona: Persona, manifest: Any) -> Any:
    return persona.client.post(APPLY, data=manifest, format="json")


def test_the_example_applies_as_is_then_again_unchanged(owner: Persona) -> None:
    example = owner.client.get("/api/v1/cli/example_manifest/KnowledgeBase/").json()["data"]
    assert example["spec"]["chunking"] == {"strategy": "markdown", "size": 256, "overlap": 32}
    assert apply(owner, example).json()["data"]["applied"] == "created"
    assert apply(owner, example).json()["data"]["applied"] == "unchanged"


def test_a_manifest_without_spec_gets_the_defaults_and_describe_shows_them_with_status(owner: Persona) -> None:
    response = apply(owner, knowledge_base_manifest("manual"))
    assert response.status_code == 200, response.content
    described = owner.client.get("/api/v1/cli/describe/knowledgebase/?name=manual").json()["data"]
    assert described == {
        "apiVersion": "smarter.sh/v1",
        "kind": "KnowledgeBase",
        "metadata": {"name": "manual", "description": "", "version": "0.1.0", "tags": [], "annotations": []},
        "spec": DEFAULT_SPEC,
        "status": EMPTY_STATUS,
    }
    assert apply(owner, described).json()["data"]["applied"] == "unchanged"


def test_get_lists_knowledge_bases_by_their_plural(owner: Persona) -> None:
    apply(owner, knowledge_base_manifest("manual", chunking={"strategy": "parent_child", "size": 128, "overlap": 16}))
    data = owner.client.get("/api/v1/cli/get/knowledgebases/").json()["data"]
    assert [title["name"] for title in data["titles"]] == ["name", "description", "embedding", "chunking", "documents"]
    assert data["items"] == [
        {
            "name": "manual",
            "description": "",
            "embedding": "local/all-MiniLM-L6-v2",
            "chunking": "parent_child",
            "documents": 0,
        }
    ]


@pytest.mark.parametrize(
    ("spec", "loc", "msg"),
    [
        (
            {"chunking": {"strategy": "sentences"}},
            "spec.chunking.strategy",
            "Input should be 'recursive', 'markdown' or 'parent_child'",
        ),
        ({"chunking": {"size": 100, "overlap": 100}}, "spec.chunking", "overlap (100) must be smaller than size (100)"),
        ({"chunking": {"size": 8}}, "spec.chunking.size", "Input should be greater than or equal to 16"),
        (
            {"embedding": {"provider": "local", "model": "text-embedding-3-small"}},
            "spec.embedding",
            "the local provider embeds with all-MiniLM-L6-v2 only",
        ),
        ({"retrieval": {"mode": "semantic"}}, "spec.retrieval.mode", "Input should be 'hybrid', 'dense' or 'lexical'"),
        ({"retrieval": {"topK": 0}}, "spec.retrieval.topK", "Input should be greater than or equal to 1"),
        ({"retrieval": {"top": 3}}, "spec.retrieval.top", "unknown field"),
    ],
)
def test_a_bad_spec_is_refused_at_its_field_path_and_nothing_is_created(
    owner: Persona, spec: dict[str, Any], loc: str, msg: str
) -> None:
    response = apply(owner, knowledge_base_manifest("manual", **spec))
    assert response.status_code == 400
    body = response.json()
    assert body["errorClass"] == "ValidationError"
    assert body["errors"] == [{"loc": loc, "msg": msg}]
    assert not KnowledgeBase.objects.exists()


def test_a_member_may_apply_and_delete(teammate: Persona) -> None:
    assert apply(teammate, knowledge_base_manifest("manual")).status_code == 200
    assert teammate.client.post("/api/v1/cli/delete/knowledgebase/?name=manual").status_code == 200
    assert not KnowledgeBase.objects.exists()


def test_the_outsider_finds_no_knowledge_base_of_another_account(owner: Persona, outsider: Persona) -> None:
    apply(owner, knowledge_base_manifest("manual"))
    for verb in ("describe", "delete"):
        response = outsider.client.post(f"/api/v1/cli/{verb}/knowledgebase/?name=manual")
        assert response.status_code == 404
        assert response.json()["errorClass"] == "NotFound"
    assert outsider.client.get("/api/v1/cli/get/knowledgebases/").json()["data"]["items"] == []
    assert KnowledgeBase.objects.filter(account=owner.account, name="manual").exists()


def test_apply_and_delete_are_journaled(owner: Persona) -> None:
    apply(owner, knowledge_base_manifest("manual"))
    apply(owner, knowledge_base_manifest("manual", retrieval={"mode": "dense", "topK": 3}))
    owner.client.post("/api/v1/cli/delete/knowledgebase/?name=manual")
    owner.client.post("/api/v1/cli/delete/knowledgebase/?name=manual")
    entries = JournalEntry.objects.filter(account=owner.account).order_by("id")
    assert [(e.command, e.kind, e.name, e.status_code) for e in entries] == [
        ("apply", "KnowledgeBase", "manual", 200),
        ("apply", "KnowledgeBase", "manual", 200),
        ("delete", "KnowledgeBase", "manual", 200),
        ("delete", "KnowledgeBase", "manual", 404),
    ]


def test_the_schema_describes_the_three_sections(owner: Persona) -> None:
    schema = owner.client.get("/api/v1/cli/schema/KnowledgeBase/").json()["data"]
    assert schema["title"] == "KnowledgeBase"
    spec = schema["$defs"]["KnowledgeBaseSpec"]["properties"]
    assert sorted(spec) == ["chunking", "embedding", "retrieval"]
    assert schema["$defs"]["ChunkingSpec"]["properties"]["strategy"]["enum"] == [
        "recursive",
        "markdown",
        "parent_child",
    ]


# --- spec.embedding.provider names a Provider of the caller's account ----------------------------
def provider(account: Any, name: str) -> None:
    # Never called: nothing is embedded until a document is added.
    provider_create(account=account, name=name, base_url="http://127.0.0.1:9/v1", default_model="chat")


def test_the_owner_applies_a_knowledge_base_that_embeds_with_a_provider_of_the_account(owner: Persona) -> None:
    provider(owner.account, "house_llm")
    embedding = {"provider": "house_llm", "model": "text-embedding-3-small"}
    response = apply(owner, knowledge_base_manifest("manual", embedding=embedding))
    assert response.status_code == 200, response.content
    assert response.json()["data"]["applied"] == "created"
    assert KnowledgeBase.objects.get(account=owner.account, name="manual").embedding == embedding


UNKNOWN_PROVIDER = {
    "errorClass": "ValidationError",
    "status": 400,
    "description": "Unknown embedding provider 'house_llm'.",
    "context": {"kind": "KnowledgeBase", "name": "manual"},  # and the request's id
    "errors": [
        {"loc": "spec.embedding.provider", "msg": "must be local or a Provider of your account; 'house_llm' is none"}
    ],
}


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "context": {k: v for k, v in body["context"].items() if k != "requestId"}}


def test_a_provider_the_account_does_not_have_is_refused_at_its_field_path_and_nothing_is_stored(
    owner: Persona,
) -> None:
    response = apply(owner, knowledge_base_manifest("manual", embedding={"provider": "house_llm", "model": "e5"}))
    assert response.status_code == 400
    assert without_request_id(response.json()) == UNKNOWN_PROVIDER
    assert not KnowledgeBase.objects.exists()


def test_another_accounts_provider_is_refused_in_the_words_of_an_unknown_one(owner: Persona, outsider: Persona) -> None:
    provider(outsider.account, "house_llm")
    response = apply(owner, knowledge_base_manifest("manual", embedding={"provider": "house_llm", "model": "e5"}))
    assert response.status_code == 400
    assert without_request_id(response.json()) == UNKNOWN_PROVIDER
    assert not KnowledgeBase.objects.exists()


def test_changing_to_a_provider_the_account_does_not_have_changes_nothing(owner: Persona) -> None:
    apply(owner, knowledge_base_manifest("manual"))
    response = apply(owner, knowledge_base_manifest("manual", embedding={"provider": "house_llm", "model": "e5"}))
    assert response.status_code == 400
    assert without_request_id(response.json()) == UNKNOWN_PROVIDER
    stored = KnowledgeBase.objects.get(account=owner.account, name="manual")
    assert stored.embedding == {"provider": "local", "model": "all-MiniLM-L6-v2"}
