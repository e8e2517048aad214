"""Tenancy: for every kind, an owner, a teammate (member) and an outsider (another account).

The outsider gets 404 on get/describe/delete of the owner's resources and sees none of them
in lists; the teammate reads but may not change admin-only kinds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from smarter.apps.account import services
from smarter.apps.account.models import Membership, Role
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.api.tests.matrix import (
    EXAMPLES,
    SESSION_KIND,
    Resource,
    World,
    build_world,
    plugin_kinds,
    registered_kinds,
    writers,
)
from smarter.apps.plugin.tests.servers import loopback_server
from smarter.lib.manifests import broker_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(owner: Persona, teammate: Persona) -> dict[str, str]:
    """One resource of each kind in the owner's account, by kind → name."""
    services.secret_create(account=owner.account, name="acme_db_password", value="p")
    services.api_key_create(account=owner.account, user=owner.user, name="acme_ci")
    return {
        "Secret": "acme_db_password",
        "ApiKey": "acme_ci",
        "User": "teammate",
        "Account": owner.account.name,
    }


KINDS = ["Secret", "ApiKey", "User", "Account"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_outsider_gets_404_on_describe_get_and_delete(owned: dict[str, str], outsider: Persona, kind: str) -> None:
    name = owned[kind]
    before = database_snapshot()
    for verb in ("describe", "get", "delete"):
        response = outsider.client.post(f"/api/v1/cli/{verb}/{kind}/?name={name}")
        assert response.status_code == 404, (verb, response.content)
        assert response.json()["errorClass"] == "NotFound"
        assert response.json()["context"] == {
            "kind": kind,
            "name": name,
            "requestId": response["X-Request-ID"],
        }
    assert database_snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_the_outsider_sees_none_of_the_owners_resources_in_lists(
    owned: dict[str, str], outsider: Persona, kind: str
) -> None:
    items = outsider.client.get(f"/api/v1/cli/get/{kind}/").json()["data"]["items"]
    assert owned[kind] not in [item["name"] for item in items]


@pytest.mark.parametrize("kind", KINDS)
def test_the_owner_and_the_teammate_can_describe(
    owned: dict[str, str], owner: Persona, teammate: Persona, kind: str
) -> None:
    assert owner.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 200
    if kind == "ApiKey":
        # Members see only their own keys.
        assert teammate.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 404
    else:
        assert teammate.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 200


def test_the_outsider_cannot_reach_the_owners_secret_by_applying_over_it(
    owned: dict[str, str], outsider: Persona
) -> None:
    body = (
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: acme_db_password}\nspec: {config: {value: mine}}\n"
    )
    response = outsider.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.json()["data"]["applied"] == "created"  # a new secret of the outsider's own
    owner_secret = services.Secret.objects.get(account__name="acme", name="acme_db_password")
    assert services.secret_reveal(secret=owner_secret) == "p"


@pytest.mark.parametrize(
    ("kind", "manifest"),
    [
        ("Secret", "kind: Secret\nmetadata: {name: s}\nspec: {config: {value: v}}"),
        ("ApiKey", "kind: ApiKey\nmetadata: {name: k}\nspec: {config: {}}"),
        ("User", "kind: User\nmetadata: {name: newbie}\nspec: {config: {email: n@example.test}}"),
        ("Account", "kind: Account\nmetadata: {name: newco}\nspec: {config: {companyName: NewCo}}"),
    ],
)
def test_a_teammate_cannot_apply_admin_kinds(teammate: Persona, kind: str, manifest: str) -> None:
    before = database_snapshot()
    response = teammate.client.post(
        "/api/v1/cli/apply/", data=f"apiVersion: smarter.sh/v1\n{manifest}\n", content_type="application/yaml"
    )
    assert response.status_code == 403
    assert response.json()["context"]["kind"] == kind
    assert database_snapshot() == before


def test_only_the_platform_operator_creates_accounts(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: Account\nmetadata: {name: newco}\nspec: {config: {companyName: NewCo}}\n"
    assert owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml").status_code == 403
    owner.user.is_superuser = True
    owner.user.save()
    response = owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.status_code == 200
    assert response.json()["data"]["manifest"]["status"]["accountNumber"]
    names = [item["name"] for item in owner.client.get("/api/v1/cli/get/accounts/").json()["data"]["items"]]
    assert names == ["acme", "newco"]


def test_an_admin_cannot_remove_the_last_admin_or_change_their_own_role(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: User\nmetadata: {name: owner}\nspec: {config: {email: owner@example.test, role: member}}\n"
    response = owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.status_code == 409
    assert owner.client.post("/api/v1/cli/delete/user/?name=owner").status_code == 409
    second = services.member_add(account=owner.account, username="second", email="s@example.test", role=Role.ADMIN)
    assert second.role == Role.ADMIN


def test_kind_words_are_case_insensitive_and_plural(owned: dict[str, str], owner: Persona) -> None:
    for word in ("secret", "Secrets", "SECRET", "apikeys", "smarterauthtoken", "SmarterAuthTokens", "users"):
        response = owner.client.get(f"/api/v1/cli/get/{word}/")
        assert response.status_code == 200, word
    assert owner.client.get("/api/v1/cli/get/smarterauthtokens/").json()["thing"] == "ApiKey"


# --- the matrix: every registered kind, every cli verb, the three personas ----------------------
# Generated from the broker registry: a kind registered later is here at once, and fails until
# `matrix.EXAMPLES` can make one.
MATRIX_KINDS = registered_kinds()


@pytest.fixture
def world(owner: Persona, teammate: Persona, smarter_settings: Any, tmp_path: Path) -> Iterator[World]:
    smarter_settings.plugin_data_dir = str(tmp_path)
    smarter_settings.allow_private_hosts = True  # the ApiConnection's target is a loopback server
    with loopback_server() as server:
        yield build_world(owner, teammate, server.url)


def verbs_for(kind: str) -> list[str]:
    """The cli verbs that take a name, for this kind (delete last: it changes the world)."""
    verbs = ["describe", "get"]
    if kind in ("Chatbot", "Chat", "ChatHistory"):
        verbs.append("logs")
    if kind == "Chatbot":
        verbs += ["deploy", "undeploy"]
    return [*verbs, "delete"]


def call(persona: Persona, verb: str, kind: str, name: str, *, in_path: bool = False) -> Any:
    path = f"/api/v1/cli/{verb}/{kind}/{name}/" if in_path else f"/api/v1/cli/{verb}/{kind}/?name={name}"
    return persona.client.post(path)


def delete_in_use(persona: Persona, world: World, kind: str, name: str) -> Any:
    """`delete`, after the owner removed what uses the resource, and what uses those (a resource
    in use answers 409, naming its users in `context.usedBy`: a plugin its chatbot, a chatbot its
    channel)."""
    response = call(persona, "delete", kind, name)
    if response.status_code != 409:
        return response
    for user in response.json()["context"]["usedBy"]:
        used_by_kind, used_by_name = user.split(" ", 1)
        assert delete_in_use(world.owner, world, used_by_kind, used_by_name).status_code == 200
    return call(persona, "delete", kind, name)


def reapply(persona: Persona, resource: Resource) -> Any:
    return persona.client.post(APPLY, data=json.dumps(resource.manifest), content_type="application/json")


def acme_rows(account_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of Acme's account (and of its users), for before/after comparisons."""
    snapshot = database_snapshot()
    users = {row[0] for row in Membership.objects.filter(account_id=account_id).values_list("user_id")}
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for label, table in snapshot.items():
        model = apps.get_model(label)
        columns = [f.attname for f in model._meta.concrete_fields if f.attname != "last_used_at"]
        if "account_id" in columns:
            index = columns.index("account_id")
            rows[label] = [row for row in table if row[index] == account_id]
        elif label == "auth.user":
            rows[label] = [row for row in table if row[0] in users]
    return rows


def test_every_registered_kind_has_an_example_in_the_matrix() -> None:
    assert sorted(MATRIX_KINDS) == sorted(EXAMPLES)
    assert {"Plugin", "SqlPlugin", "ApiPlugin"} <= set(plugin_kinds())


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_the_outsider_finds_nothing_of_another_account_with_any_verb(
    world: World, outsider: Persona, kind: str
) -> None:
    resource = world.resources[kind]
    broker = broker_for(kind)
    before = database_snapshot()
    for verb in verbs_for(kind):
        for in_path in (False, True):
            response = call(outsider, verb, kind, resource.name, in_path=in_path)
            body = response.json()
            if verb == "delete" and writers(broker) == "nobody" and kind != SESSION_KIND:
                # A session's parts are never deleted alone: refused before any lookup, for anyone.
                assert response.status_code == 400, (verb, body)
            else:
                assert response.status_code == 404, (verb, in_path, body)
                assert body["errorClass"] == "NotFound"
            assert world.owner.account.account_number not in response.content.decode(), (verb, body)
    assert database_snapshot() == before


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_the_outsider_sees_none_of_another_accounts_resources_in_lists(
    world: World, outsider: Persona, kind: str
) -> None:
    response = outsider.client.get(f"/api/v1/cli/get/{kind}/")
    assert response.status_code == 200
    assert world.resources[kind].name not in [item["name"] for item in response.json()["data"]["items"]]


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_an_outsider_applying_the_same_manifest_never_touches_the_other_account(
    world: World, outsider: Persona, kind: str
) -> None:
    resource = world.resources[kind]
    document = resource.manifest or broker_for(kind).example()
    before = acme_rows(world.owner.account.pk)
    response = outsider.client.post(APPLY, data=json.dumps(document), content_type="application/json")
    assert response.status_code < 500, response.content
    assert acme_rows(world.owner.account.pk) == before
    if response.status_code == 200:  # then it made a resource of the outsider's own
        described = outsider.client.get(f"/api/v1/cli/describe/{kind}/?name={resource.name}")
        assert described.status_code == 200
        assert world.owner.account.account_number not in described.content.decode()


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_the_owner_reads_every_kind_and_writes_what_an_admin_may(world: World, kind: str) -> None:
    owner, resource, broker = world.owner, world.resources[kind], broker_for(kind)
    for verb in verbs_for(kind)[:-1]:
        response = call(owner, verb, kind, resource.name)
        assert response.status_code == 200, (verb, response.content)
    items = owner.client.get(f"/api/v1/cli/get/{kind}/").json()["data"]["items"]
    assert resource.name in [item["name"] for item in items]
    who = writers(broker)
    if resource.manifest is not None:
        before = database_snapshot()
        response = reapply(owner, resource)
        if who == "operator":
            assert response.status_code == 403, response.content
            assert database_snapshot() == before
        else:
            assert response.status_code == 200, response.content
            assert response.json()["data"]["applied"] in ("unchanged", "updated")
    before = database_snapshot()
    response = delete_in_use(owner, world, kind, resource.name)
    if who == "operator":
        assert response.status_code == 403
        assert database_snapshot() == before
    elif who == "nobody" and kind != SESSION_KIND:
        assert response.status_code == 400
        assert database_snapshot() == before
    else:
        assert response.status_code == 200, response.content
        assert call(owner, "describe", kind, resource.name).status_code == 404


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_a_teammate_reads_every_kind_and_writes_only_what_a_member_may(world: World, kind: str) -> None:
    teammate, resource, broker = world.teammate, world.resources[kind], broker_for(kind)
    who = writers(broker)
    hidden = kind == "ApiKey"  # a member sees only her own keys
    response = call(teammate, "describe", kind, resource.name)
    assert response.status_code == (404 if hidden else 200), response.content
    listed = [item["name"] for item in teammate.client.get(f"/api/v1/cli/get/{kind}/").json()["data"]["items"]]
    assert (resource.name in listed) is not hidden
    if kind == "Chatbot":
        for verb in ("deploy", "undeploy"):
            before = database_snapshot()
            response = call(teammate, verb, kind, resource.name)
            assert response.status_code == 403, (verb, response.content)
            assert response.json()["errorClass"] == "PermissionDenied"
            assert database_snapshot() == before
    if resource.manifest is not None:
        before = database_snapshot()
        response = reapply(teammate, resource)
        if who == "member":
            assert response.status_code == 200, response.content
        else:
            assert response.status_code == 403, response.content
            assert response.json()["context"]["kind"] == kind
            assert database_snapshot() == before
    before = database_snapshot()
    response = delete_in_use(teammate, world, kind, resource.name)
    if who == "member" or kind == SESSION_KIND:  # the teammate's own session
        assert response.status_code == 200, response.content
        assert call(world.owner, "describe", kind, resource.name).status_code == 404
    else:
        expected = 404 if hidden else (400 if who == "nobody" else 403)
        assert response.status_code == expected, response.content
        assert database_snapshot() == before


@pytest.mark.parametrize("kind", MATRIX_KINDS)
def test_no_describe_or_list_shows_a_secret_value(world: World, outsider: Persona, kind: str) -> None:
    for persona in (world.owner, world.teammate, outsider):
        for path in (f"/api/v1/cli/get/{kind}/", f"/api/v1/cli/describe/{kind}/?name={world.resources[kind].name}"):
            assert b"s3cr3t-acme" not in persona.client.get(path).content
