"""The knowledge plugin class through the cli endpoints: apply (as `KnowledgePlugin` or as
`Plugin` with `pluginClass: knowledge`), describe, get, delete, its validation at field paths,
and tenancy: another account's knowledge base cannot be attached, and says so exactly as a
knowledge base that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import Account
from smarter.apps.knowledge.models import KnowledgeBase
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.tests.conftest import apply, error_locs, manifest

pytestmark = pytest.mark.django_db

QUERY_TOOL = {
    "type": "function",
    "function": {
        "name": "product_manual_search",
        "description": "Searches the product manual (use, care, storage, safety, warranty and returns).",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "what to look up in the documents: the user's question, in full, in their words",
                }
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}


def knowledge_base(account: Account, name: str = "product_manual") -> KnowledgeBase:
    return KnowledgeBase.objects.create(
        account=account,
        name=name,
        embedding={"provider": "local", "model": "all-MiniLM-L6-v2"},
        chunking={"strategy": "markdown", "size": 256, "overlap": 32},
        retrieval={"mode": "hybrid", "topK": 4},
    )


def example(persona: Any) -> dict[str, Any]:
    response = persona.client.get("/api/v1/cli/example_manifest/KnowledgePlugin/")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def searcher(knowledge: dict[str, Any] | None = None, kind: str = "KnowledgePlugin") -> dict[str, Any]:
    return manifest(
        kind,
        "manual_search",
        {
            "selector": {"directive": "always"},
            "knowledge": knowledge or {"knowledgeBase": "product_manual", "description": "Searches the manual"},
        },
        pluginClass="knowledge",
    )


def test_the_example_applies_describes_and_reapplies_unchanged(owner: Any) -> None:
    base = knowledge_base(owner.account)
    document = example(owner)
    response = apply(owner, document)
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["applied"] == "created"
    plugin = Plugin.objects.get()
    assert (plugin.plugin_class, plugin.knowledge_base, plugin.kind) == ("knowledge", base, "KnowledgePlugin")
    described = owner.client.get("/api/v1/cli/describe/knowledgeplugin/?name=product_manual_search").json()["data"]
    assert described["kind"] == "KnowledgePlugin"
    assert described["metadata"]["pluginClass"] == "knowledge"
    assert described["spec"]["knowledge"] == {
        "knowledgeBase": "product_manual",
        "topK": 4,
        "description": "Searches the product manual (use, care, storage, safety, warranty and returns).",
    }
    assert described["spec"]["selector"] == {"directive": "llm"}
    assert described["spec"]["prompt"] == {
        "systemRole": "Answer from the documents the search returns, and say which document you used."
    }
    assert described["status"] == {"toolSchema": QUERY_TOOL, "knowledgeBase": {"name": "product_manual"}}
    assert apply(owner, described).json()["data"]["applied"] == "unchanged"
    assert apply(owner, document).json()["data"]["applied"] == "unchanged"


def test_kind_plugin_with_plugin_class_knowledge_is_the_same_plugin_and_lists_with_every_class(owner: Any) -> None:
    knowledge_base(owner.account)
    assert apply(owner, searcher(kind="Plugin")).json()["data"]["applied"] == "created"
    assert apply(owner, searcher()).json()["data"]["applied"] == "unchanged"
    every = owner.client.get("/api/v1/cli/get/plugins/").json()["data"]["items"]
    assert [(item["name"], item["pluginClass"]) for item in every] == [("manual_search", "knowledge")]
    only = owner.client.get("/api/v1/cli/get/knowledgeplugins/").json()["data"]["items"]
    assert [item["name"] for item in only] == ["manual_search"]
    assert owner.client.get("/api/v1/cli/get/sqlplugins/").json()["data"]["items"] == []
    described = owner.client.get("/api/v1/cli/describe/plugin/?name=manual_search").json()["data"]
    assert described["kind"] == "KnowledgePlugin"


def test_a_teammate_applies_changes_and_deletes_and_the_knowledge_base_stays(owner: Any, teammate: Any) -> None:
    base = knowledge_base(owner.account)
    assert apply(teammate, searcher()).json()["data"]["applied"] == "created"
    changed = searcher({"knowledgeBase": "product_manual", "topK": 2, "description": "The manual"})
    assert apply(teammate, changed).json()["data"]["applied"] == "updated"
    assert Plugin.objects.get().data == {"knowledgeBase": "product_manual", "topK": 2, "description": "The manual"}
    response = teammate.client.post("/api/v1/cli/delete/knowledgeplugin/?name=manual_search")
    assert response.status_code == 200, response.json()
    assert not Plugin.objects.exists()
    assert KnowledgeBase.objects.get() == base


def test_a_plugin_moves_to_another_knowledge_base_of_the_account(owner: Any) -> None:
    knowledge_base(owner.account)
    other = knowledge_base(owner.account, "faq")
    apply(owner, searcher())
    assert apply(owner, searcher({"knowledgeBase": "faq", "description": "FAQ"})).json()["data"]["applied"] == "updated"
    assert Plugin.objects.get().knowledge_base == other


def test_an_unknown_knowledge_base_is_an_error_at_its_field_and_creates_nothing(owner: Any) -> None:
    response = apply(owner, searcher({"knowledgeBase": "nope", "description": "x"}))
    assert response.status_code == 400
    assert error_locs(response) == {"spec.knowledge.knowledgeBase": "no KnowledgeBase named 'nope' in your account"}
    assert not Plugin.objects.exists()


def test_an_outsider_cannot_attach_another_accounts_knowledge_base_and_learns_nothing(
    owner: Any, outsider: Any
) -> None:
    knowledge_base(owner.account, "acme_manual")
    theirs = apply(outsider, searcher({"knowledgeBase": "acme_manual", "description": "x"}))
    unknown = apply(outsider, searcher({"knowledgeBase": "no_such_manual", "description": "x"}))
    assert theirs.status_code == unknown.status_code == 400
    assert error_locs(theirs) == {
        "spec.knowledge.knowledgeBase": "no KnowledgeBase named 'acme_manual' in your account"
    }
    assert error_locs(unknown) == {
        "spec.knowledge.knowledgeBase": "no KnowledgeBase named 'no_such_manual' in your account"
    }
    assert theirs.json()["description"] == unknown.json()["description"]
    assert not Plugin.objects.exists()
    # and an outsider's describe or delete of the owner's plugin is a 404 that changes nothing
    knowledge_base(owner.account)
    apply(owner, searcher())
    assert outsider.client.get("/api/v1/cli/describe/knowledgeplugin/?name=manual_search").status_code == 404
    assert outsider.client.post("/api/v1/cli/delete/knowledgeplugin/?name=manual_search").status_code == 404
    assert Plugin.objects.filter(name="manual_search").count() == 1


@pytest.mark.parametrize(
    ("knowledge", "errors"),
    [
        (
            {"knowledgeBase": "product_manual", "topK": 0, "description": "x"},
            {"spec.knowledge.topK": "Input should be greater than or equal to 1"},
        ),
        (
            {"knowledgeBase": "product_manual", "topK": 51, "description": "x"},
            {"spec.knowledge.topK": "Input should be less than or equal to 50"},
        ),
        ({"knowledgeBase": "product_manual"}, {"spec.knowledge.description": "Field required"}),
        ({"description": "x"}, {"spec.knowledge.knowledgeBase": "Field required"}),
        (
            {"knowledgeBase": "product_manual", "description": "x", "mode": "dense"},
            {"spec.knowledge.mode": "unknown field"},
        ),
    ],
)
def test_bad_knowledge_specs_are_refused_at_their_fields(
    owner: Any, knowledge: dict[str, Any], errors: dict[str, str]
) -> None:
    knowledge_base(owner.account)
    response = apply(owner, searcher(knowledge))
    assert response.status_code == 400
    assert error_locs(response) == errors
    assert not Plugin.objects.exists()


def test_a_knowledge_plugin_cannot_change_class_in_place(owner: Any) -> None:
    knowledge_base(owner.account)
    apply(owner, searcher())
    static = manifest(
        "Plugin",
        "manual_search",
        {"selector": {"directive": "always"}, "data": {"description": "x", "staticData": {"a": 1}}},
        pluginClass="static",
    )
    response = apply(owner, static)
    assert error_locs(response) == {
        "metadata.pluginClass": "plugin 'manual_search' exists as knowledge; delete it first to change its class"
    }
    assert Plugin.objects.get().plugin_class == "knowledge"


def test_deleting_a_knowledge_base_in_use_is_a_409_naming_the_plugin_and_deletes_nothing(owner: Any) -> None:
    base = knowledge_base(owner.account)
    apply(owner, searcher())
    response = owner.client.post("/api/v1/cli/delete/knowledgebase/?name=product_manual")
    assert response.status_code == 409
    assert response.json()["description"] == (
        "KnowledgeBase 'product_manual' is in use by KnowledgePlugin manual_search; change or delete those first."
    )
    assert response.json()["context"]["usedBy"] == ["KnowledgePlugin manual_search"]
    assert KnowledgeBase.objects.get() == base
    assert Plugin.objects.get().knowledge_base == base
    # Once the plugin is gone, the knowledge base goes too.
    assert owner.client.post("/api/v1/cli/delete/knowledgeplugin/?name=manual_search").status_code == 200
    assert owner.client.post("/api/v1/cli/delete/knowledgebase/?name=product_manual").status_code == 200
    assert not KnowledgeBase.objects.exists()
