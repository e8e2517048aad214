"""The plugin kinds through the cli endpoints: apply, get, describe, delete, examples, tenancy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from smarter.apps.account.models import Secret
from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection
from smarter.apps.plugin.tests.conftest import apply, error_locs, make_secret, manifest

pytestmark = pytest.mark.django_db

KINDS = ["Plugin", "SqlConnection", "SqlPlugin", "ApiConnection", "ApiPlugin"]


def example(persona: Any, kind: str) -> dict[str, Any]:
    response = persona.client.get(f"/api/v1/cli/example_manifest/{kind}/")
    assert response.status_code == 200
    return response.json()["data"]


def counts() -> tuple[int, int, int, int]:
    return Plugin.objects.count(), SqlConnection.objects.count(), ApiConnection.objects.count(), Secret.objects.count()


def gobstopper(**spec: Any) -> dict[str, Any]:
    document = manifest(
        "Plugin",
        "gobstopper",
        {
            "selector": {"directive": "search_terms", "searchTerms": ["gobstopper"]},
            "data": {"description": "Gobstopper facts", "staticData": {"price": "$1", "flavours": ["cherry"]}},
        },
        pluginClass="static",
    )
    document["spec"].update(spec)
    return document


def test_every_example_applies_as_is_to_a_fresh_account_then_again_unchanged(owner: Any, sqlite_dir: Any) -> None:
    for kind in KINDS:
        response = apply(owner, example(owner, kind))
        assert response.status_code == 200, (kind, response.json())
        assert response.json()["data"]["applied"] == "created"
    before = {plugin.name: plugin.updated_at for plugin in Plugin.objects.all()}
    for kind in KINDS:
        response = apply(owner, example(owner, kind))
        assert response.json()["data"]["applied"] == "unchanged", kind
    assert {plugin.name: plugin.updated_at for plugin in Plugin.objects.all()} == before
    assert sorted(Plugin.objects.values_list("name", "plugin_class")) == [
        ("course_catalogue", "sql"),
        ("everlasting_gobstopper", "static"),
        ("weather_forecast", "api"),
    ]


def test_describe_shows_the_tool_schema_and_the_connection_health(owner: Any, sqlite_dir: Any) -> None:
    apply(owner, example(owner, "SqlConnection"))
    apply(owner, example(owner, "SqlPlugin"))
    data = owner.client.get("/api/v1/cli/describe/sqlplugin/?name=course_catalogue").json()["data"]
    assert data["kind"] == "SqlPlugin"
    assert data["status"]["toolSchema"]["function"]["name"] == "course_catalogue"
    assert data["status"]["toolSchema"]["function"]["parameters"]["properties"]["max_cost"] == {
        "type": "number",
        "description": "highest price in USD",
    }
    # the example connection points at a file that does not exist yet: applied, but unreachable
    assert data["status"]["connection"]["name"] == "course_catalogue_db"
    assert data["status"]["connection"]["reachable"] is False
    assert data["status"]["connection"]["detail"] == (
        "the database file course_catalogue.sqlite3 does not exist in your account's plugin data folder"
    )
    # describe's output re-applies unchanged
    assert apply(owner, data).json()["data"]["applied"] == "unchanged"


def test_describe_of_a_reachable_connection(owner: Any, sqlite_dir: Any) -> None:
    document = example(owner, "SqlConnection")
    document["spec"]["connection"]["database"] = "courses.sqlite3"
    apply(owner, document)
    status = owner.client.get("/api/v1/cli/describe/sqlconnection/?name=course_catalogue_db").json()["data"]["status"]
    assert status["health"]["reachable"] is True
    assert status["usedBy"] == []


def test_a_change_is_an_update_and_the_listing_shows_every_class(owner: Any, sqlite_dir: Any) -> None:
    assert apply(owner, gobstopper()).json()["data"]["applied"] == "created"
    changed = gobstopper(prompt={"systemRole": "Be sweet.", "temperature": 0.2})
    assert apply(owner, changed).json()["data"]["applied"] == "updated"
    assert Plugin.objects.get().prompt == {"systemRole": "Be sweet.", "temperature": 0.2}
    apply(owner, example(owner, "SqlConnection"))
    apply(owner, example(owner, "SqlPlugin"))
    listing = owner.client.get("/api/v1/cli/get/plugins/").json()["data"]
    assert [item["name"] for item in listing["items"]] == ["course_catalogue", "gobstopper"]
    assert [title["name"] for title in listing["titles"]] == ["name", "description", "pluginClass", "directive"]
    only_sql = owner.client.get("/api/v1/cli/get/sqlplugins/").json()["data"]["items"]
    assert [item["name"] for item in only_sql] == ["course_catalogue"]


BAD = [
    ({"selector": {"directive": "sometimes"}}, {"spec.selector.directive": "must be one of always, search_terms, llm"}),
    (
        {"selector": {"directive": "search_terms"}},
        {"spec.selector.searchTerms": "required when directive is search_terms"},
    ),
    (
        {"selector": {"directive": "always", "searchTerms": ["x"]}},
        {"spec.selector.searchTerms": "only allowed when directive is search_terms"},
    ),
    ({"selector": {"directive": "always"}, "colour": "red"}, {"spec.colour": "unknown field"}),
    (
        {"selector": {"directive": "always"}, "prompt": {"temperature": "hot"}},
        {"spec.prompt.temperature": "Input should be a valid number, unable to parse string as a number"},
    ),
    (
        {"selector": {"directive": "always"}, "prompt": {"maxTokens": 0}},
        {"spec.prompt.maxTokens": "Input should be greater than 0"},
    ),
    ({"selector": "always"}, {"spec.selector": "Input should be a valid dictionary or instance of Selector"}),
]


@pytest.mark.parametrize(("spec", "errors"), BAD)
def test_bad_plugin_manifests_are_refused_with_field_paths(
    owner: Any, spec: dict[str, Any], errors: dict[str, str]
) -> None:
    response = apply(owner, gobstopper(**spec))
    assert response.status_code == 400
    assert response.json()["errorClass"] == "ValidationError"
    assert error_locs(response) == errors
    assert counts() == (0, 0, 0, 0)


def test_a_wrong_plugin_class_and_bad_parameters_are_refused(owner: Any, sqlite_dir: Any) -> None:
    document = gobstopper()
    document["metadata"]["pluginClass"] = "magic"
    assert error_locs(apply(owner, document)) == {"metadata.pluginClass": "must be one of static, sql, api, knowledge"}
    apply(owner, example(owner, "SqlConnection"))
    sql = example(owner, "SqlPlugin")
    sql["metadata"]["pluginClass"] = "api"
    assert error_locs(apply(owner, sql)) == {"metadata.pluginClass": "must be sql for kind SqlPlugin"}
    sql = example(owner, "SqlPlugin")
    sql["spec"]["sqlData"]["parameters"][1].update({"type": "number", "enum": [1, "two"], "default": 3})
    sql["spec"]["sqlData"]["parameters"].append({"name": "topic", "type": "integer"})
    assert error_locs(apply(owner, sql)) == {
        "spec.sqlData.parameters[1].enum[1]": "must be of type number",
        "spec.sqlData.parameters[1].default": "must be one of the enum values",
        "spec.sqlData.parameters[2].name": "duplicate parameter 'topic'",
    }
    assert Plugin.objects.count() == 0


def test_kind_plugin_with_plugin_class_sql_is_a_sql_plugin(owner: Any, sqlite_dir: Any) -> None:
    apply(owner, example(owner, "SqlConnection"))
    document = example(owner, "SqlPlugin")
    document["kind"] = "Plugin"
    response = apply(owner, document)
    assert response.status_code == 200, response.json()
    assert Plugin.objects.get().plugin_class == "sql"


def test_connections_name_secrets_of_the_callers_account_only(owner: Any, outsider: Any, private_hosts: Any) -> None:
    make_secret(outsider, "their_token", "theirs")
    document = manifest(
        "ApiConnection",
        "crm",
        {"connection": {"baseUrl": "https://crm.example", "authMethod": "token", "apiKey": "their_token"}},
    )
    response = apply(owner, document)
    assert response.status_code == 400
    assert error_locs(response) == {"spec.connection.apiKey": "no Secret named 'their_token' in your account"}
    document["spec"]["connection"]["apiKey"] = None
    assert error_locs(apply(owner, document)) == {"spec.connection.apiKey": "required when authMethod is token"}
    sql = manifest(
        "SqlConnection",
        "db",
        {"connection": {"dbEngine": "mysql", "hostname": "db.example", "database": "x", "password": "their_token"}},
    )
    assert error_locs(apply(owner, sql)) == {
        "spec.connection.password": "no Secret named 'their_token' in your account"
    }
    assert (SqlConnection.objects.count(), ApiConnection.objects.count()) == (0, 0)


def test_plugins_cannot_name_another_accounts_connection(owner: Any, outsider: Any, sqlite_dir: Any) -> None:
    assert apply(outsider, example(outsider, "SqlConnection")).status_code == 200
    assert apply(outsider, example(outsider, "ApiConnection")).status_code == 200
    response = apply(owner, example(owner, "SqlPlugin"))
    assert error_locs(response) == {"spec.connection": "no SqlConnection named 'course_catalogue_db' in your account"}
    response = apply(owner, example(owner, "ApiPlugin"))
    assert error_locs(response) == {"spec.connection": "no ApiConnection named 'weather_api' in your account"}
    assert Plugin.objects.count() == 0


def test_deleting_what_is_in_use_is_refused_and_names_the_users(owner: Any, private_hosts: Any) -> None:
    make_secret(owner, "crm_token", "t")
    apply(
        owner,
        manifest(
            "ApiConnection",
            "crm",
            {"connection": {"baseUrl": "https://crm.example", "authMethod": "token", "apiKey": "crm_token"}},
        ),
    )
    apply(
        owner,
        manifest(
            "ApiPlugin",
            "crm_lookup",
            {"selector": {"directive": "llm"}, "connection": "crm", "apiData": {"description": "d", "endpoint": "/x"}},
        ),
    )
    response = owner.client.post("/api/v1/cli/delete/secret/?name=crm_token")
    assert response.status_code == 409
    assert response.json()["context"]["usedBy"] == ["ApiConnection crm"]
    response = owner.client.post("/api/v1/cli/delete/apiconnection/?name=crm")
    assert response.status_code == 409
    assert (
        response.json()["description"]
        == "ApiConnection 'crm' is in use by ApiPlugin crm_lookup; change or delete those first."
    )
    assert counts() == (1, 0, 1, 1)
    assert owner.client.post("/api/v1/cli/delete/apiplugin/?name=crm_lookup").status_code == 200
    assert owner.client.post("/api/v1/cli/delete/apiconnection/?name=crm").status_code == 200
    assert owner.client.post("/api/v1/cli/delete/secret/?name=crm_token").status_code == 200
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize("verb", ["describe", "delete"])
def test_another_accounts_plugin_is_not_found(owner: Any, outsider: Any, verb: str) -> None:
    apply(owner, gobstopper())
    response = outsider.client.post(f"/api/v1/cli/{verb}/plugin/?name=gobstopper")
    assert response.status_code == 404
    assert outsider.client.get("/api/v1/cli/get/plugins/").json()["data"]["items"] == []
    assert outsider.client.get("/api/v1/cli/get/plugins/?name=gobstopper").status_code == 404
    assert Plugin.objects.count() == 1


def test_members_may_apply_read_and_delete_plugins(owner: Any, teammate: Any) -> None:
    assert apply(teammate, gobstopper()).status_code == 200
    assert owner.client.get("/api/v1/cli/describe/plugin/?name=gobstopper").status_code == 200
    assert teammate.client.get("/api/v1/cli/describe/plugin/?name=gobstopper").status_code == 200
    assert teammate.client.post("/api/v1/cli/delete/plugin/?name=gobstopper").status_code == 200
    assert Plugin.objects.count() == 0


def test_schemas_are_generated_from_the_models(owner: Any) -> None:
    schema = owner.client.get("/api/v1/cli/schema/sqlplugin/").json()["data"]
    assert schema["title"] == "SqlPlugin"
    text = str(schema)
    assert "sqlQuery" in text and "searchTerms" in text and "pluginClass" in text


def test_apply_is_atomic_when_a_later_check_fails(owner: Any, sqlite_dir: Any) -> None:
    apply(owner, example(owner, "SqlConnection"))
    document = example(owner, "SqlPlugin")
    good = copy.deepcopy(document)
    assert apply(owner, good).status_code == 200
    document["spec"]["sqlData"]["description"] = "changed"
    document["spec"]["sqlData"]["sqlQuery"] = "SELECT 1; DELETE FROM courses"
    assert apply(owner, document).status_code == 400
    assert Plugin.objects.get().data["description"] == good["spec"]["sqlData"]["description"]


def test_deleting_an_account_takes_its_plugins_and_connections_with_it(
    owner: Any, outsider: Any, sqlite_dir: Any
) -> None:
    from smarter.apps.account import services as account_services

    for kind in ("SqlConnection", "SqlPlugin", "Plugin"):
        assert apply(owner, example(owner, kind)).status_code == 200
    apply(outsider, gobstopper())
    account_services.account_delete(account=owner.account)
    assert list(Plugin.objects.values_list("name", flat=True)) == ["gobstopper"]
    assert SqlConnection.objects.count() == 0
