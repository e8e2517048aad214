"""The broker base of the kinds stored as rows: the field mapping declared once (describe is the
spec model dumped from the row, apply hands the spec's fields to the services), names resolved in
the caller's account only, the services found by name, and the one-section manifest models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import yaml
from django.apps import apps
from pydantic import Field
from pydantic.alias_generators import to_camel

from smarter.apps.account import services as account_services
from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.chatbot import services as chatbot_services
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.plugin import services as plugin_services
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, apply_rank, broker_for, registered_brokers
from smarter.lib.manifests.envelope import section_manifest

pytestmark = pytest.mark.django_db

MODEL_BROKERS = sorted(
    (broker for broker in registered_brokers() if isinstance(broker, ModelBroker)),
    key=lambda broker: apply_rank(broker.kind),
)


def _apply_examples_up_to(persona: Persona, kind: str) -> None:
    for broker in MODEL_BROKERS:
        response = persona.client.post(APPLY, data=broker.example(), format="json")
        assert response.status_code == 200, response.content
        if broker.kind == kind:
            return


def _spec_model(broker: ModelBroker[Any]) -> type[CamelModel]:
    return broker.manifest_model.model_fields["spec"].annotation  # type: ignore[return-value]


@pytest.mark.parametrize("broker", MODEL_BROKERS, ids=lambda broker: broker.kind)
def test_describe_shows_exactly_the_fields_of_the_kinds_schema_and_reapplies_without_writing(
    owner: Persona, broker: ModelBroker[Any]
) -> None:
    owner.user.is_superuser = True  # the Account example needs the platform operator
    owner.user.save()
    _apply_examples_up_to(owner, broker.kind)
    name = broker.example()["metadata"]["name"]
    described = owner.client.get(f"/api/v1/cli/describe/{broker.kind}/?name={name}").json()["data"]
    schema = owner.client.get(f"/api/v1/cli/schema/{broker.kind}/").json()["data"]

    jsonschema.validate(described, schema)
    spec_model = _spec_model(broker)
    assert set(described["spec"]) <= {to_camel(field) for field in spec_model.model_fields}
    section = spec_model.model_fields.get(broker.section)
    # A section of one model (not a Channel's config, whose shape follows its type).
    modelled = section is not None and hasattr(section.annotation, "model_fields")
    if modelled and broker.kind not in {"Plugin", "SqlPlugin", "ApiPlugin"}:
        shown = {to_camel(name) for name, field in section.annotation.model_fields.items() if not field.exclude}  # type: ignore[union-attr]
        assert set(described["spec"][broker.section]) == shown
    before = database_snapshot()
    again = owner.client.post(APPLY, data=described, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["data"]["applied"] == "unchanged"
    shown_again = again.json()["data"]["manifest"]
    assert {**shown_again, "status": None} == {**described, "status": None}  # status holds timings
    assert database_snapshot() == before


@pytest.mark.parametrize("broker", MODEL_BROKERS, ids=lambda broker: broker.kind)
def test_every_kind_writes_through_services_that_exist_and_reads_rows_of_its_model(
    owner: Persona, broker: ModelBroker[Any]
) -> None:
    for index in range(3):
        assert callable(broker.writes._service(index))
    caller = Caller(user=owner.user, account=owner.account, role=Role.ADMIN)
    assert broker.rows(caller).model is broker.model


# --- what is named in a manifest is found in the caller's account only -------------------------------
def _outsiders_world(outsider: Persona) -> None:
    """Everything a manifest of Acme could name, in Globex, under the names Acme's manifests use."""
    secret = account_services.secret_create(account=outsider.account, name="theirs", value="v")
    account_services.api_key_create(account=outsider.account, user=outsider.user, name="theirs")
    plugin_services.sql_connection_create(
        account=outsider.account, name="theirs", db_engine="sqlite", database="x.sqlite3", password=secret
    )
    plugin_services.api_connection_create(account=outsider.account, name="theirs", base_url="https://example.com")
    plugin_services.plugin_create(
        account=outsider.account,
        name="theirs",
        plugin_class="static",
        selector={"directive": "always"},
        data={"description": "d", "staticData": {"a": 1}},
    )
    chatbot_services.provider_create(
        account=outsider.account, name="theirs", base_url="https://b.example.com/v1", default_model="m"
    )


OTHER_ACCOUNTS_NAMES = [
    (
        {
            "kind": "SqlConnection",
            "spec": {"connection": {"dbEngine": "sqlite", "database": "a.db", "password": "theirs"}},
        },
        "spec.connection.password",
    ),
    (
        {
            "kind": "ApiConnection",
            "spec": {"connection": {"baseUrl": "https://a.example.com", "authMethod": "token", "apiKey": "theirs"}},
        },
        "spec.connection.apiKey",
    ),
    (
        {
            "kind": "Provider",
            "spec": {"provider": {"baseUrl": "https://a.example.com/v1", "apiKey": "theirs", "defaultModel": "m"}},
        },
        "spec.provider.apiKey",
    ),
    ({"kind": "Chatbot", "spec": {"apiKey": "theirs"}}, "spec.apiKey"),
    ({"kind": "Chatbot", "spec": {"plugins": ["theirs"]}}, "spec.plugins[0]"),
    ({"kind": "Chatbot", "spec": {"config": {"provider": "theirs"}}}, "spec.config.provider"),
    (
        {
            "kind": "SqlPlugin",
            "spec": {
                "selector": {"directive": "always"},
                "connection": "theirs",
                "sqlData": {"description": "d", "sqlQuery": "SELECT 1"},
            },
        },
        "spec.connection",
    ),
    (
        {
            "kind": "ApiPlugin",
            "spec": {
                "selector": {"directive": "always"},
                "connection": "theirs",
                "apiData": {"description": "d", "endpoint": "/x"},
            },
        },
        "spec.connection",
    ),
]


@pytest.mark.parametrize(("manifest", "loc"), OTHER_ACCOUNTS_NAMES, ids=lambda value: str(value)[:40])
def test_a_name_of_another_accounts_resource_is_refused_at_its_field_and_nothing_changes(
    owner: Persona, outsider: Persona, manifest: dict[str, Any], loc: str
) -> None:
    _outsiders_world(outsider)
    document = {"apiVersion": "smarter.sh/v1", "metadata": {"name": "mine"}, **copy.deepcopy(manifest)}
    before = database_snapshot()
    response = owner.client.post(APPLY, data=document, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errorClass"] == "ValidationError"
    assert [error["loc"] for error in body["errors"]] == [loc]
    assert "theirs" in body["errors"][0]["msg"]
    assert database_snapshot() == before


# --- an optional field: null in the manifest, an empty string in the model ---------------------------
OPTIONAL_CHATBOT_FIELDS = [
    ("appInfoUrl", "app_info_url", "https://example.com/about"),
    ("appLogoUrl", "app_logo_url", "https://example.com/logo.png"),
    ("appBackgroundImageUrl", "app_background_image_url", "https://example.com/back.png"),
    ("subdomain", "subdomain", "help-desk"),
]


@pytest.mark.parametrize(("field", "attribute", "value"), OPTIONAL_CHATBOT_FIELDS)
def test_an_optional_field_is_stored_empty_when_left_out_and_described_as_null(
    owner: Persona, field: str, attribute: str, value: str
) -> None:
    document = {"apiVersion": "smarter.sh/v1", "kind": "Chatbot", "metadata": {"name": "bot"}, "spec": {}}
    set_once = copy.deepcopy(document)
    set_once["spec"] = {"config": {field: value}}
    response = owner.client.post(APPLY, data=set_once, format="json")
    assert response.json()["data"]["manifest"]["spec"]["config"][field] == value
    assert getattr(Chatbot.objects.get(), attribute) == value

    response = owner.client.post(APPLY, data=document, format="json")
    assert response.json()["data"]["applied"] == "updated"
    assert response.json()["data"]["manifest"]["spec"]["config"][field] is None
    assert getattr(Chatbot.objects.get(), attribute) == ""
    # A field whose own default is the empty string stays one.
    assert response.json()["data"]["manifest"]["spec"]["config"]["provider"] == ""


# --- get's columns ---------------------------------------------------------------------------------
def test_a_column_reads_a_dotted_path_or_a_function_and_shows_dates_and_resources_plainly(owner: Persona) -> None:
    secret = account_services.secret_create(account=owner.account, name="token", value="v")
    connection = plugin_services.api_connection_create(
        account=owner.account, name="crm", base_url="https://example.com", api_key=secret
    )
    assert Column("apiKey").value(connection) == "token"
    assert Column("owner", source="account.name").value(connection) == owner.account.name
    assert Column("createdAt").value(connection) == connection.created_at.isoformat()
    assert Column("host", source=lambda row: row.base_url.split("//")[1]).value(connection) == "example.com"
    assert Column("nothing", source=lambda row: None).value(connection) is None


def test_a_value_an_item_carries_is_not_a_title_of_the_table() -> None:
    broker = broker_for("ChatToolCall")
    assert "result" in [column.name for column in broker.columns]
    assert [title["name"] for title in broker.titles()] == ["name", "plugin", "arguments", "error", "ms"]


# --- the models of a kind whose spec is one section --------------------------------------------------
class _Config(CamelModel):
    base_url: str = Field(max_length=10, description="where")
    retries: int = 3


class _DeclaredSpec(CamelModel):
    config: _Config


class _DeclaredManifest(Manifest):
    kind: Literal["Thing"] = "Thing"
    spec: _DeclaredSpec


def test_a_one_section_manifest_has_the_schema_of_the_same_classes_written_out() -> None:
    made = section_manifest("Thing", "config", _Config)
    declared = _DeclaredManifest.model_json_schema(by_alias=True)
    schema = made.model_json_schema(by_alias=True)
    declared["$defs"]["ThingSpec"] = declared["$defs"].pop("_DeclaredSpec")
    declared["$defs"]["ThingSpec"]["title"] = "ThingSpec"
    declared["properties"]["spec"]["$ref"] = "#/$defs/ThingSpec"
    declared["title"] = "ThingManifest"
    assert schema == declared
    assert made.model_validate({"kind": "Thing", "metadata": {"name": "a"}, "spec": {"config": {"baseUrl": "x"}}})
    with pytest.raises(ValueError, match="spec"):
        made.model_validate({"kind": "Thing", "metadata": {"name": "a"}})


def test_an_optional_section_and_spec_take_their_defaults() -> None:
    class Defaults(CamelModel):
        retries: int = 3

    optional = section_manifest("Thing", "config", Defaults, optional=True)
    manifest = optional.model_validate({"kind": "Thing", "metadata": {"name": "a"}})
    assert manifest.spec.config.retries == 3
    with pytest.raises(ValueError, match="kind"):
        optional.model_validate({"kind": "Other", "metadata": {"name": "a"}})


# --- the example files ------------------------------------------------------------------------------
def test_the_example_files_of_the_plugin_app_apply_together_as_the_cli_applies_a_folder(owner: Persona) -> None:
    """docs/manifests.md: `smarter apply -f smarter/apps/knowledge/examples/ -f
    smarter/apps/plugin/examples/` on a fresh account."""
    from smarter_cli.manifests import in_dependency_order, load_documents

    folders = [str(Path(apps.get_app_config(app).path) / "examples") for app in ("knowledge", "plugin")]
    documents = in_dependency_order(load_documents(folders))
    kinds = [document.kind for document in documents]
    # Before the plugins that name them:
    assert sorted(kinds[:3]) == ["ApiConnection", "KnowledgeBase", "SqlConnection"]
    assert sorted(kinds[3:]) == ["ApiPlugin", "KnowledgePlugin", "Plugin", "SqlPlugin"]
    for document in documents:
        response = owner.client.post(APPLY, data=document.to_yaml(), content_type="application/yaml")
        assert response.status_code == 200, response.content
        assert response.json()["data"]["applied"] == "created"


def test_every_example_file_is_the_example_its_kind_serves(owner: Persona) -> None:
    served = {}
    for broker in MODEL_BROKERS:
        served[broker.kind] = owner.client.get(f"/api/v1/cli/example_manifest/{broker.kind}/").json()["data"]
    files = {}
    for app in apps.get_app_configs():
        for path in sorted((Path(app.path) / "examples").glob("*.yaml")):
            files[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert files == served
