"""`POST /api/v1/cli/apply/?dryRun=true`: what an apply would change, as a unified diff of the
described manifest with what it takes away named, and nothing written, whoever asks."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot

pytestmark = pytest.mark.django_db

DRY_RUN = f"{APPLY}?dryRun=true"
PLUGIN = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "catalogue", "pluginClass": "static", "description": "Our catalogue"},
    "spec": {"selector": {"directive": "always"}, "data": {"description": "Facts", "staticData": {"price": "$1"}}},
}
CHATBOT = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Chatbot",
    "metadata": {"name": "support"},
    "spec": {
        "config": {"defaultModel": "gpt-4o-mini", "deployed": True, "allowedOrigins": ["https://shop.example"]},
        "plugins": ["catalogue"],
        "functions": ["calculator"],
    },
}
# What a page once showed as "add your site": applied as is, it is the whole desired state.
PARTIAL = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Chatbot",
    "metadata": {"name": "support"},
    "spec": {"config": {"allowedOrigins": ["https://www.example.com"]}},
}


def _post(persona: Persona, url: str, manifest: dict[str, Any]) -> Any:
    return persona.client.post(url, data=manifest, content_type="application/json")


@pytest.fixture
def live(owner: Persona) -> Persona:
    for manifest in (PLUGIN, CHATBOT):
        assert _post(owner, APPLY, manifest).status_code == 200
    return owner


def test_a_partial_manifest_shows_that_it_would_undeploy_and_drop_plugins_and_changes_nothing(live: Persona) -> None:
    described = live.client.post("/api/v1/cli/describe/Chatbot/?name=support").json()["data"]
    snapshot = database_snapshot()
    answer = _post(live, DRY_RUN, PARTIAL)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    data = body["data"]
    assert body["thing"] == "Chatbot" and body["metadata"]["command"] == "diff"
    assert data["action"] == "update"
    assert data["warnings"] == [
        "spec.config.deployed: true → false: it is taken offline",
        "spec.config.allowedOrigins: https://shop.example removed",
        "spec.plugins: catalogue removed",
        "spec.functions: calculator removed",
    ]
    diff = data["diff"].splitlines()
    assert diff[:2] == ["--- Chatbot/support (now)", "+++ Chatbot/support (after apply)"]
    assert "-    deployed: true" in diff and "+    deployed: false" in diff
    assert "-  - catalogue" in diff and "-    - https://shop.example" in diff
    assert "+    - https://www.example.com" in diff
    assert data["manifest"]["spec"]["plugins"] == [] and data["manifest"]["status"]["deployed"] is False
    # Nothing changed: the rows, and what describe shows; the journal says a diff was asked.
    assert database_snapshot() == snapshot
    assert live.client.post("/api/v1/cli/describe/Chatbot/?name=support").json()["data"] == described
    entry = JournalEntry.objects.order_by("-id").values("command", "kind", "name", "status_code")[1]
    assert entry == {"command": "diff", "kind": "Chatbot", "name": "support", "status_code": 200}


def test_a_new_resource_is_a_create_from_nothing(owner: Persona) -> None:
    snapshot = database_snapshot()
    data = _post(owner, DRY_RUN, PLUGIN).json()["data"]
    assert data["action"] == "create" and data["warnings"] == []
    assert data["diff"].startswith("--- /dev/null\n+++ Plugin/catalogue (after apply)\n")
    assert "+  name: catalogue" in data["diff"].splitlines()
    assert database_snapshot() == snapshot
    assert _post(owner, "/api/v1/cli/describe/Plugin/?name=catalogue", {}).status_code == 404


def test_the_manifest_describe_shows_is_unchanged(live: Persona) -> None:
    described = live.client.post("/api/v1/cli/describe/Chatbot/?name=support").json()["data"]
    described.pop("status")
    data = _post(live, DRY_RUN, described).json()["data"]
    assert (data["action"], data["diff"], data["warnings"]) == ("unchanged", "", [])


def test_a_bad_manifest_is_refused_at_its_field_and_a_bad_flag_too(live: Persona) -> None:
    snapshot = database_snapshot()
    bad = {**CHATBOT, "spec": {**CHATBOT["spec"], "config": {"defaultTemperature": "hot"}}}
    refused = _post(live, DRY_RUN, bad)
    assert refused.status_code == 400
    assert [error["loc"] for error in refused.json()["errors"]] == ["spec.config.defaultTemperature"]
    flag = _post(live, f"{APPLY}?dryRun=perhaps", CHATBOT)
    assert flag.status_code == 400
    assert [error["loc"] for error in flag.json()["errors"]] == ["dryRun"]
    assert database_snapshot() == snapshot


def test_a_member_may_not_preview_what_only_an_admin_may_do(live: Persona, teammate: Persona) -> None:
    refused = _post(teammate, DRY_RUN, PARTIAL)  # undeploying is an admin's change
    assert refused.status_code == 403


def test_an_outsider_previews_their_own_account_only(live: Persona, outsider: Persona) -> None:
    data = _post(outsider, DRY_RUN, PARTIAL).json()["data"]
    assert data["action"] == "create"  # Acme's chatbot of that name is not theirs to see
    assert "shop.example" not in data["diff"] and "catalogue" not in data["diff"]
    assert data["manifest"]["status"]["accountNumber"] == outsider.account.account_number
