"""Secrets by role, through the cli endpoints: a member may not point an admin's Secret at a server
of her choosing (a new connection naming it, or an admin's connection retargeted), nor swap,
drop or delete one; she may write connections that name no Secret, change what is not the
target, and use the admin's connections and providers unchanged. Another account's Secret is
unknown. Each refusal is a 403 with the field path, changes nothing, and sends nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from smarter.apps.account import services
from smarter.apps.account.secret_policy import BindingFields, secret_binding_authorize
from smarter.apps.account.selectors import caller_for_user
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.chatbot.models import Provider
from smarter.apps.plugin.models import ApiConnection, SqlConnection
from smarter.apps.plugin.tests.echo_server import EchoServer, PasswordCatcher, echo_server, postgres_echo_server
from smarter.lib.errors import PermissionDenied
from smarter.testing.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class World:
    """Acme's admin resources, and the servers a member would like its secrets sent to."""

    admin_api: EchoServer
    her_api: EchoServer
    her_database: PasswordCatcher
    her_llm: OpenAIStub
    admin_llm_url: str
    warehouse_port: int

    def crm(self, **changes: Any) -> dict[str, Any]:
        connection = {"baseUrl": self.admin_api.url, "authMethod": "token", "apiKey": "crm_token", "timeout": 5}
        return manifest("ApiConnection", "crm", {"connection": {**connection, **changes}})

    def warehouse(self, **changes: Any) -> dict[str, Any]:
        connection = {
            "dbEngine": "mysql",
            "hostname": "127.0.0.1",
            "port": self.warehouse_port,
            "database": "warehouse",
            "username": "reader",
            "password": "warehouse_password",
            "timeout": 2,
        }
        return manifest("SqlConnection", "warehouse", {"connection": {**connection, **changes}})

    def llm(self, **changes: Any) -> dict[str, Any]:
        provider = {"baseUrl": self.admin_llm_url, "apiKey": "llm_key", "defaultModel": "stub-model"}
        return manifest("Provider", "acme_llm", {"provider": {**provider, **changes}})

    def nothing_reached_her(self) -> bool:
        return not self.her_api.requests and not self.her_database.received and not self.her_llm.requests


def post(persona: Persona, document: dict[str, Any]) -> Any:
    return persona.client.post(APPLY, data=document, format="json")


@pytest.fixture
def world(owner: Persona, smarter_settings: Any) -> Iterator[World]:
    smarter_settings.allow_private_hosts = True  # every server of these tests is on loopback
    for name in ("crm_token", "other_token", "warehouse_password", "llm_key"):
        services.secret_create(account=owner.account, name=name, value=f"{name}-value-0123456789")
    with (
        echo_server() as admin_api,
        echo_server() as her_api,
        postgres_echo_server() as her_database,
        OpenAIStub() as admin_llm,
        OpenAIStub() as her_llm,
    ):
        made = World(admin_api, her_api, her_database, her_llm, admin_llm.url, closed_port())
        for document in (made.crm(), made.warehouse(), made.llm()):
            assert post(owner, document).status_code == 200
        admin_api.requests.clear()
        yield made


# --- what a member may not do ----------------------------------------------------------------------
CREATE = "Only an account admin may create {kind} {name!r}: it names a Secret. Create it without one, or ask an admin."
SWAP = "Only an account admin may change which Secret {kind} {name!r} uses."
MOVE = "Only an account admin may change where {kind} {name!r} sends its Secret."
NAME_MSG = "only an account admin may name a Secret"
SWAP_MSG = "only an account admin may name, change or remove a Secret"
MOVE_MSG = "only an account admin may change the target of a resource that uses a Secret"

Attempt = Callable[[World], dict[str, Any]]


def _new_api(world: World, **config: Any) -> dict[str, Any]:
    return manifest("ApiConnection", "mine", {"connection": {"baseUrl": world.her_api.url, **config}})


REFUSED: dict[str, tuple[Attempt, str, str, str]] = {
    "new ApiConnection, token": (
        lambda w: _new_api(w, authMethod="token", apiKey="crm_token"),
        CREATE.format(kind="ApiConnection", name="mine"),
        "spec.connection.apiKey",
        NAME_MSG,
    ),
    "new ApiConnection, basic": (
        lambda w: _new_api(w, authMethod="basic", apiKey="crm_token", username="eve"),
        CREATE.format(kind="ApiConnection", name="mine"),
        "spec.connection.apiKey",
        NAME_MSG,
    ),
    "new ApiConnection, header": (
        lambda w: _new_api(w, authMethod="header", apiKey="crm_token", headerName="X-Leak"),
        CREATE.format(kind="ApiConnection", name="mine"),
        "spec.connection.apiKey",
        NAME_MSG,
    ),
    "new ApiConnection, secret named but not sent": (
        lambda w: _new_api(w, authMethod="none", apiKey="crm_token"),
        CREATE.format(kind="ApiConnection", name="mine"),
        "spec.connection.apiKey",
        NAME_MSG,
    ),
    "admin's ApiConnection, baseUrl": (
        lambda w: w.crm(baseUrl=w.her_api.url),
        MOVE.format(kind="ApiConnection", name="crm"),
        "spec.connection.baseUrl",
        MOVE_MSG,
    ),
    "admin's ApiConnection, baseUrl path": (
        lambda w: w.crm(baseUrl=w.admin_api.url + "/redirect"),
        MOVE.format(kind="ApiConnection", name="crm"),
        "spec.connection.baseUrl",
        MOVE_MSG,
    ),
    "admin's ApiConnection, authMethod": (
        lambda w: w.crm(authMethod="header", headerName="X-Leak"),
        MOVE.format(kind="ApiConnection", name="crm"),
        "spec.connection.authMethod",
        MOVE_MSG,
    ),
    "admin's ApiConnection, headerName": (
        lambda w: w.crm(headerName="X-Leak"),
        MOVE.format(kind="ApiConnection", name="crm"),
        "spec.connection.headerName",
        MOVE_MSG,
    ),
    "admin's ApiConnection, username": (
        lambda w: w.crm(username="eve"),
        MOVE.format(kind="ApiConnection", name="crm"),
        "spec.connection.username",
        MOVE_MSG,
    ),
    "admin's ApiConnection, another secret": (
        lambda w: w.crm(apiKey="other_token"),
        SWAP.format(kind="ApiConnection", name="crm"),
        "spec.connection.apiKey",
        SWAP_MSG,
    ),
    "admin's ApiConnection, secret removed": (
        lambda w: w.crm(authMethod="none", apiKey=None),
        SWAP.format(kind="ApiConnection", name="crm"),
        "spec.connection.apiKey",
        SWAP_MSG,
    ),
    "new SqlConnection": (
        lambda w: manifest(
            "SqlConnection",
            "mine",
            {
                "connection": {
                    "dbEngine": "postgresql",
                    "hostname": "127.0.0.1",
                    "port": w.her_database.port,
                    "database": "loot",
                    "username": "eve",
                    "password": "warehouse_password",
                }
            },
        ),
        CREATE.format(kind="SqlConnection", name="mine"),
        "spec.connection.password",
        NAME_MSG,
    ),
    "admin's SqlConnection, dbEngine": (
        lambda w: w.warehouse(dbEngine="postgresql", port=w.her_database.port),
        MOVE.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.dbEngine",
        MOVE_MSG,
    ),
    "admin's SqlConnection, hostname": (
        lambda w: w.warehouse(hostname="localhost"),
        MOVE.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.hostname",
        MOVE_MSG,
    ),
    "admin's SqlConnection, port": (
        lambda w: w.warehouse(port=w.her_database.port),
        MOVE.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.port",
        MOVE_MSG,
    ),
    "admin's SqlConnection, database": (
        lambda w: w.warehouse(database="other"),
        MOVE.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.database",
        MOVE_MSG,
    ),
    "admin's SqlConnection, username": (
        lambda w: w.warehouse(username="root"),
        MOVE.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.username",
        MOVE_MSG,
    ),
    "admin's SqlConnection, another secret": (
        lambda w: w.warehouse(password="crm_token"),
        SWAP.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.password",
        SWAP_MSG,
    ),
    "admin's SqlConnection, secret removed": (
        lambda w: w.warehouse(password=None),
        SWAP.format(kind="SqlConnection", name="warehouse"),
        "spec.connection.password",
        SWAP_MSG,
    ),
}


@pytest.mark.parametrize("attempt", list(REFUSED))
def test_a_member_may_not_point_a_secret_at_a_server_of_her_choosing(
    world: World, teammate: Persona, attempt: str
) -> None:
    build, description, loc, msg = REFUSED[attempt]
    document = build(world)
    before = database_snapshot()
    response = post(teammate, document)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["errorClass"] == "PermissionDenied"
    assert body["description"] == description
    assert body["context"] == {
        "kind": document["kind"],
        "name": document["metadata"]["name"],
        "requestId": response["X-Request-ID"],
    }
    assert body["errors"] == [{"loc": loc, "msg": msg}]
    assert database_snapshot() == before
    assert world.nothing_reached_her()


def test_a_member_may_not_give_a_secret_to_her_own_connection(world: World, teammate: Persona) -> None:
    assert post(teammate, _new_api(world)).json()["data"]["applied"] == "created"
    before = database_snapshot()
    response = post(teammate, _new_api(world, authMethod="token", apiKey="crm_token"))
    assert response.status_code == 403
    assert response.json()["description"] == SWAP.format(kind="ApiConnection", name="mine")
    assert response.json()["errors"] == [{"loc": "spec.connection.apiKey", "msg": SWAP_MSG}]
    assert database_snapshot() == before
    # Her server saw the health check of the secretless connection, and never a credential.
    assert world.her_api.requests and all("Authorization" not in seen for seen in world.her_api.requests)


@pytest.mark.parametrize(
    "attempt",
    [
        lambda w: w.llm(baseUrl=w.her_llm.url),
        lambda w: w.llm(apiKey=None),
        lambda w: manifest(
            "Provider", "mine", {"provider": {"baseUrl": w.her_llm.url, "apiKey": "llm_key", "defaultModel": "m"}}
        ),
        lambda w: manifest("Provider", "mine", {"provider": {"baseUrl": w.her_llm.url, "defaultModel": "m"}}),
    ],
    ids=["retarget", "drop the key", "new with the key", "new without a key"],
)
def test_a_member_may_not_write_providers(world: World, teammate: Persona, attempt: Attempt) -> None:
    document = attempt(world)
    before = database_snapshot()
    response = post(teammate, document)
    assert response.status_code == 403
    assert response.json()["description"] == "Only an account admin may change Provider resources."
    assert database_snapshot() == before
    assert world.nothing_reached_her()


@pytest.mark.parametrize(
    ("kind", "name"), [("ApiConnection", "crm"), ("SqlConnection", "warehouse"), ("Provider", "acme_llm")]
)
def test_a_member_may_not_delete_what_uses_a_secret(world: World, teammate: Persona, kind: str, name: str) -> None:
    before = database_snapshot()
    response = teammate.client.post(f"/api/v1/cli/delete/{kind}/?name={name}")
    assert response.status_code == 403
    expected = (
        "Only an account admin may change Provider resources."
        if kind == "Provider"
        else f"Only an account admin may delete {kind} {name!r}: it uses a Secret."
    )
    assert response.json()["description"] == expected
    assert database_snapshot() == before


# --- what a member may do --------------------------------------------------------------------------
def test_a_member_may_create_retarget_and_delete_connections_that_name_no_secret(
    world: World, teammate: Persona
) -> None:
    api = _new_api(world)
    assert post(teammate, api).json()["data"]["applied"] == "created"
    api["spec"]["connection"]["baseUrl"] = world.admin_api.url
    assert post(teammate, api).json()["data"]["applied"] == "updated"
    sql = manifest(
        "SqlConnection",
        "scratch",
        {"connection": {"dbEngine": "postgresql", "hostname": "127.0.0.1", "port": closed_port(), "database": "a"}},
    )
    assert post(teammate, sql).json()["data"]["applied"] == "created"
    sql["spec"]["connection"]["hostname"] = "localhost"
    assert post(teammate, sql).json()["data"]["applied"] == "updated"
    assert ApiConnection.objects.get(name="mine").base_url == world.admin_api.url
    assert SqlConnection.objects.get(name="scratch").hostname == "localhost"
    assert teammate.client.post("/api/v1/cli/delete/ApiConnection/?name=mine").status_code == 200
    assert teammate.client.post("/api/v1/cli/delete/SqlConnection/?name=scratch").status_code == 200
    assert sorted(ApiConnection.objects.values_list("name", flat=True)) == ["crm"]


def test_a_member_may_change_what_is_not_the_target_and_reapply_unchanged(world: World, teammate: Persona) -> None:
    assert post(teammate, world.crm()).json()["data"]["applied"] == "unchanged"
    assert post(teammate, world.warehouse()).json()["data"]["applied"] == "unchanged"
    tuned = world.crm(timeout=9)
    tuned["metadata"]["description"] = "The CRM, with a longer timeout"
    assert post(teammate, tuned).json()["data"]["applied"] == "updated"
    assert post(teammate, world.warehouse(timeout=7)).json()["data"]["applied"] == "updated"
    crm = ApiConnection.objects.get(name="crm")
    assert (crm.timeout, crm.description, crm.base_url, crm.api_key.name) == (
        9,
        "The CRM, with a longer timeout",
        world.admin_api.url,
        "crm_token",
    )
    warehouse = SqlConnection.objects.get(name="warehouse")
    assert (warehouse.timeout, warehouse.hostname, warehouse.password.name) == (7, "127.0.0.1", "warehouse_password")


def test_a_member_may_use_the_admins_connection_and_provider_and_still_cannot_read_the_secret(
    world: World, teammate: Persona
) -> None:
    plugin = manifest(
        "ApiPlugin",
        "whoami",
        {
            "selector": {"directive": "always"},
            "connection": "crm",
            "apiData": {"description": "Who the CRM thinks we are", "endpoint": "/json"},
        },
    )
    assert post(teammate, plugin).status_code == 200
    tested = teammate.client.post("/api/v1/plugins/whoami/test/", {}, format="json")
    assert tested.status_code == 200
    assert tested.json()["result"]["youSent"] == {"authorization": "Bearer ***", "token": None, "basicPair": None}
    assert world.admin_api.requests[-1]["Authorization"] == "Bearer crm_token-value-0123456789"
    assert "crm_token-value" not in tested.content.decode()
    chatbot = manifest("Chatbot", "helper", {"config": {"provider": "acme_llm"}, "plugins": ["whoami"]})
    assert post(teammate, chatbot).json()["data"]["applied"] == "created"
    described = teammate.client.get("/api/v1/cli/describe/apiconnection/?name=crm").json()["data"]
    assert described["spec"]["connection"]["apiKey"] == "crm_token"
    assert "value-0123456789" not in str(described)


# --- an admin, and another account ---------------------------------------------------------------
def test_an_admin_may_name_retarget_and_delete(world: World, owner: Persona) -> None:
    assert post(owner, _new_api(world, authMethod="token", apiKey="crm_token")).json()["data"]["applied"] == "created"
    assert post(owner, world.crm(baseUrl=world.her_api.url, apiKey="other_token")).json()["data"]["applied"] == (
        "updated"
    )
    assert post(owner, world.warehouse(hostname="localhost", password="crm_token")).status_code == 200
    assert post(owner, world.llm(baseUrl=world.her_llm.url)).json()["data"]["applied"] == "updated"
    for kind, name in (("ApiConnection", "crm"), ("SqlConnection", "warehouse"), ("Provider", "acme_llm")):
        assert owner.client.post(f"/api/v1/cli/delete/{kind}/?name={name}").status_code == 200
    assert not Provider.objects.exists() and not SqlConnection.objects.exists()


@pytest.mark.parametrize(
    ("document", "loc"),
    [
        (
            manifest(
                "ApiConnection",
                "crm",
                {"connection": {"baseUrl": "https://api.example.com", "authMethod": "token", "apiKey": "crm_token"}},
            ),
            "spec.connection.apiKey",
        ),
        (
            manifest(
                "SqlConnection",
                "warehouse",
                {
                    "connection": {
                        "dbEngine": "mysql",
                        "hostname": "db.example.com",
                        "database": "w",
                        "password": "llm_key",
                    }
                },
            ),
            "spec.connection.password",
        ),
        (
            manifest(
                "Provider",
                "acme_llm",
                {"provider": {"baseUrl": "https://llm.example.com/v1", "apiKey": "llm_key", "defaultModel": "m"}},
            ),
            "spec.provider.apiKey",
        ),
    ],
    ids=["ApiConnection", "SqlConnection", "Provider"],
)
def test_another_accounts_secret_is_unknown_to_the_outsider(
    world: World, outsider: Persona, document: dict[str, Any], loc: str
) -> None:
    before = database_snapshot()
    response = post(outsider, document)
    assert response.status_code == 400
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
    assert "in your account" in response.json()["errors"][0]["msg"]
    assert database_snapshot() == before
    kind, name = document["kind"], document["metadata"]["name"]
    assert outsider.client.post(f"/api/v1/cli/delete/{kind}/?name={name}").status_code == 404
    assert database_snapshot() == before


# --- the rule itself, for any kind (a Channel names several Secrets) -------------------------------
CHANNEL = BindingFields(
    secrets={"access_token": "spec.config.accessToken", "app_secret": "spec.config.appSecret"},
    target={"graph_base_url": "spec.config.graphBaseUrl", "phone_number_id": "spec.config.phoneNumberId"},
)


def channel(**changes: Any) -> dict[str, Any]:
    fields = {
        "access_token": 11,
        "app_secret": 12,
        "graph_base_url": "https://graph.facebook.com/v21.0",
        "phone_number_id": "1234",
    }
    return {**fields, **changes}


@pytest.mark.parametrize(
    ("before", "after", "loc"),
    [
        (None, channel(), "spec.config.accessToken"),
        (None, channel(access_token=None), "spec.config.appSecret"),
        (channel(), channel(app_secret=13), "spec.config.appSecret"),
        (channel(), channel(graph_base_url="https://her.example.com"), "spec.config.graphBaseUrl"),
        (channel(), channel(phone_number_id="999"), "spec.config.phoneNumberId"),
        (channel(access_token=None, app_secret=None), channel(access_token=None), "spec.config.appSecret"),
        (channel(), None, None),
    ],
    ids=["create", "create with one", "swap", "retarget", "retarget number", "add", "delete"],
)
def test_the_rule_refuses_a_member_for_any_kind_and_names_the_field(
    teammate: Persona, owner: Persona, before: Any, after: Any, loc: str | None
) -> None:
    member = caller_for_user(teammate.user, teammate.account.pk)
    admin = caller_for_user(owner.user, owner.account.pk)
    assert member is not None and admin is not None
    kwargs = {"kind": "Channel", "name": "whatsapp", "before": CHANNEL.read(before), "after": CHANNEL.read(after)}
    with pytest.raises(PermissionDenied) as refused:
        secret_binding_authorize(caller=member, **kwargs)
    assert [error.loc for error in refused.value.errors] == ([loc] if loc else [])
    assert refused.value.context == {"kind": "Channel", "name": "whatsapp"}
    secret_binding_authorize(caller=admin, **kwargs)  # an admin may


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, channel(access_token=None, app_secret=None)),
        (channel(access_token=None, app_secret=None), channel(access_token=None, app_secret=None, phone_number_id="9")),
        (channel(access_token=None, app_secret=None), None),
        (channel(), channel()),
    ],
    ids=["create without secrets", "retarget without secrets", "delete without secrets", "unchanged"],
)
def test_the_rule_lets_a_member_write_what_names_no_secret_or_leaves_it_where_it_is(
    teammate: Persona, before: Any, after: Any
) -> None:
    member = caller_for_user(teammate.user, teammate.account.pk)
    assert member is not None
    secret_binding_authorize(
        caller=member, kind="Channel", name="whatsapp", before=CHANNEL.read(before), after=CHANNEL.read(after)
    )
