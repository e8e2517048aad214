"""Kinds `Plugin` (static), `SqlPlugin` and `ApiPlugin`.

`kind: Plugin` also accepts `metadata.pluginClass: sql|api` (the original format used one kind
for every class); `get plugins` lists every class, `get sqlplugins` only SQL ones.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator

from smarter.apps.plugin import selectors, services
from smarter.apps.plugin.health import api_connection_health, sql_connection_health
from smarter.apps.plugin.manifests.common import (
    Parameter,
    PluginMetadata,
    PluginSpecBase,
    TestValue,
    parameter_problems,
    pydantic_problems,
    selector_problems,
    validation_failed,
)
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.sql_guard import UnsafeQuery, check_query
from smarter.apps.plugin.tools import tool_schema
from smarter.lib.errors import FieldError
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName
from smarter.lib.outbound import check_url_characters

KIND_OF_CLASS = {"static": "Plugin", "sql": "SqlPlugin", "api": "ApiPlugin"}


class StaticData(CamelModel):
    description: str = Field(min_length=1, max_length=2000, description="what the model reads to decide")
    static_data: dict[str, Any] = Field(min_length=1, max_length=100)


class SqlData(CamelModel):
    description: str = Field(min_length=1, max_length=2000)
    sql_query: str = Field(min_length=1, max_length=20_000)
    parameters: list[Parameter] = Field(default_factory=list, max_length=50)
    test_values: list[TestValue] = Field(default_factory=list, max_length=50)
    limit: int = Field(10, ge=1, le=1000, description="the most rows returned")


class UrlParam(CamelModel):
    key: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=2000)


class Header(CamelModel):
    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,128}$")
    value: str = Field(max_length=4000)

    @field_validator("value")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A line break would start another header (or the body) of the request: refused here,
        # when the manifest is applied, not when the request is sent. Header values travel as
        # ASCII; anything else could not be sent at all.
        for position, character in enumerate(value):
            if not (character == "\t" or " " <= character <= "~"):
                raise ValueError(
                    f"must be printable ASCII on one line: no line break or control character "
                    f"(U+{ord(character):04X} at position {position})"
                )
        return value


class ApiData(CamelModel):
    description: str = Field(min_length=1, max_length=2000)
    endpoint: str = Field(min_length=1, max_length=2048, description="path under the connection's baseUrl")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url_params: list[UrlParam] = Field(default_factory=list, max_length=50)
    headers: list[Header] = Field(default_factory=list, max_length=50)
    body: dict[str, Any] | list[Any] | None = None
    parameters: list[Parameter] = Field(default_factory=list, max_length=50)
    test_values: list[TestValue] = Field(default_factory=list, max_length=50)
    limit: int = Field(10, ge=1, le=1000, description="the most list items returned")

    @field_validator("endpoint")
    @classmethod
    def _path(cls, value: str) -> str:
        # Joined to the connection's baseUrl: a path may not name another host, nor hold what
        # a URL may not (spaces, line breaks, backslashes).
        if "://" in value or value.startswith("//"):
            raise ValueError("must be a path under the connection's baseUrl")
        check_url_characters(value)  # its refusal is a ValueError: an error at this field
        return value


class StaticPluginSpec(PluginSpecBase):
    data: StaticData


class SqlPluginSpec(PluginSpecBase):
    connection: ResourceName = Field(description="name of a SqlConnection of your account")
    sql_data: SqlData


class ApiPluginSpec(PluginSpecBase):
    connection: ResourceName = Field(description="name of an ApiConnection of your account")
    api_data: ApiData


class StaticPluginManifest(Manifest):
    kind: Literal["Plugin"] = "Plugin"
    metadata: PluginMetadata
    spec: StaticPluginSpec


class SqlPluginManifest(Manifest):
    kind: Literal["SqlPlugin", "Plugin"] = "SqlPlugin"
    metadata: PluginMetadata
    spec: SqlPluginSpec


class ApiPluginManifest(Manifest):
    kind: Literal["ApiPlugin", "Plugin"] = "ApiPlugin"
    metadata: PluginMetadata
    spec: ApiPluginSpec


MODEL_OF_CLASS: dict[str, type[Manifest]] = {
    "static": StaticPluginManifest,
    "sql": SqlPluginManifest,
    "api": ApiPluginManifest,
}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class _PluginBroker(Broker):
    plugin_class: ClassVar[str]
    write_role = "member"
    columns = (Column("name"), Column("description"), Column("pluginClass"), Column("directive"))

    # --- validation -----------------------------------------------------------------------
    def _class_of(self, document: dict[str, Any]) -> str:
        return self.plugin_class

    def validate(self, document: dict[str, Any]) -> Manifest:
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        plugin_class = self._class_of(document)
        declared = metadata.get("pluginClass") if isinstance(metadata, dict) else None
        model = MODEL_OF_CLASS.get(plugin_class, MODEL_OF_CLASS[self.plugin_class])
        try:
            manifest = model.model_validate({**document, "kind": self.kind})
        except ValidationError as error:
            raise validation_failed(self.kind, name, pydantic_problems(error)) from None
        problems = []
        if declared is not None and declared != plugin_class:
            problems.append(FieldError("metadata.pluginClass", f"must be {plugin_class} for kind {self.kind}"))
        problems += selector_problems(manifest.spec.selector)
        data = getattr(manifest.spec, "sql_data", None) or getattr(manifest.spec, "api_data", None)
        if data is not None:
            prefix = "spec.sqlData" if plugin_class == "sql" else "spec.apiData"
            problems += parameter_problems(data.parameters, data.test_values, prefix)
        if problems:
            raise validation_failed(self.kind, name, problems)
        manifest.metadata.plugin_class = plugin_class  # type: ignore[attr-defined]
        return manifest

    # --- apply ----------------------------------------------------------------------------
    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        metadata = manifest.metadata
        plugin_class = metadata.plugin_class
        spec = manifest.spec
        problems: list[FieldError] = []
        fields: dict[str, Any] = {
            "description": metadata.description,
            "version": metadata.version,
            "tags": list(metadata.tags),
            "annotations": [dict(item) for item in metadata.annotations],
            "selector": _clean(spec.selector.model_dump(by_alias=True, mode="json")),
            "prompt": _clean(spec.prompt.model_dump(by_alias=True, mode="json")),
            "sql_connection": None,
            "api_connection": None,
        }
        if plugin_class == "static":
            fields["data"] = spec.data.model_dump(by_alias=True, mode="json")
        elif plugin_class == "sql":
            fields["data"] = spec.sql_data.model_dump(by_alias=True, mode="json")
            connection = selectors.sql_connection_get(account=caller.account, name=spec.connection)
            if connection is None:
                problems.append(
                    FieldError("spec.connection", f"no SqlConnection named {spec.connection!r} in your account")
                )
            else:
                fields["sql_connection"] = connection
                names = {parameter.name for parameter in spec.sql_data.parameters}
                try:
                    check_query(spec.sql_data.sql_query, engine=connection.db_engine, parameter_names=names)
                except UnsafeQuery as error:
                    problems.append(FieldError("spec.sqlData.sqlQuery", str(error)))
        else:
            fields["data"] = spec.api_data.model_dump(by_alias=True, mode="json")
            api_connection = selectors.api_connection_get(account=caller.account, name=spec.connection)
            if api_connection is None:
                problems.append(
                    FieldError("spec.connection", f"no ApiConnection named {spec.connection!r} in your account")
                )
            else:
                fields["api_connection"] = api_connection
        if problems:
            raise validation_failed(self.kind, metadata.name, problems)
        plugin = selectors.plugin_get(account=caller.account, name=metadata.name)
        if plugin is None:
            plugin = services.plugin_create(
                account=caller.account, name=metadata.name, plugin_class=plugin_class, **fields
            )
            return ApplyOutcome("created", self._describe(plugin))
        if plugin.plugin_class != plugin_class:
            raise validation_failed(
                self.kind,
                metadata.name,
                [
                    FieldError(
                        "metadata.pluginClass",
                        f"plugin {metadata.name!r} exists as {plugin.plugin_class}; "
                        "delete it first to change its class",
                    )
                ],
            )
        changed = services.plugin_update(plugin=plugin, **fields)
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(plugin))

    # --- reads ----------------------------------------------------------------------------
    def _listed_class(self) -> str | None:
        return self.plugin_class

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": plugin.name,
                "description": plugin.description,
                "pluginClass": plugin.plugin_class,
                "directive": plugin.directive,
            }
            for plugin in selectors.plugins_of(caller.account, plugin_class=self._listed_class())
        ]

    def _get(self, caller: Caller, name: str) -> Plugin:
        plugin = selectors.plugin_get(account=caller.account, name=name, plugin_class=self._listed_class())
        if plugin is None:
            raise self.not_found(name)
        return plugin

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, plugin: Plugin) -> dict[str, Any]:
        spec: dict[str, Any] = {"selector": plugin.selector, "prompt": plugin.prompt}
        status: dict[str, Any] = {"toolSchema": tool_schema(plugin)}
        if plugin.plugin_class == "static":
            spec["data"] = plugin.data
        elif plugin.plugin_class == "sql":
            assert plugin.sql_connection is not None
            spec["connection"] = plugin.sql_connection.name
            spec["sqlData"] = plugin.data
            status["connection"] = {
                "name": plugin.sql_connection.name,
                **sql_connection_health(plugin.sql_connection),
            }
        else:
            assert plugin.api_connection is not None
            spec["connection"] = plugin.api_connection.name
            spec["apiData"] = plugin.data
            status["connection"] = {
                "name": plugin.api_connection.name,
                **api_connection_health(plugin.api_connection),
            }
        metadata = {
            "name": plugin.name,
            "pluginClass": plugin.plugin_class,
            "description": plugin.description,
            "version": plugin.version,
            "tags": plugin.tags,
            "annotations": plugin.annotations,
        }
        body = self.envelope(metadata, spec, status)
        body["kind"] = plugin.kind
        return body

    def delete(self, caller: Caller, name: str) -> None:
        plugin = self._get(caller, name)
        self.check_can_write(caller)
        services.plugin_delete(plugin=plugin)


class StaticPluginBroker(_PluginBroker):
    kind = "Plugin"
    plugin_class = "static"
    manifest_model = StaticPluginManifest

    def _class_of(self, document: dict[str, Any]) -> str:
        metadata = document.get("metadata")
        declared = metadata.get("pluginClass") if isinstance(metadata, dict) else None
        return declared if declared in MODEL_OF_CLASS else "static"

    def _listed_class(self) -> str | None:
        return None  # `get plugins` lists every class

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "Plugin",
            "metadata": {
                "name": "everlasting_gobstopper",
                "pluginClass": "static",
                "description": "Facts about the Everlasting Gobstopper: contacts, promotions, coupons.",
                "version": "0.2.0",
                "tags": ["candy", "treats"],
                "annotations": [{"smarter.sh/plugin-category": "Candy Plugins"}],
            },
            "spec": {
                "selector": {
                    "directive": "search_terms",
                    "searchTerms": ["gobstopper", "everlasting", "candy"],
                },
                "prompt": {
                    "systemRole": "You are a helpful marketing agent for the Willy Wonka Chocolate Factory. "
                    "Use the everlasting_gobstopper tool for facts about the product.",
                    "temperature": 0.7,
                    "maxTokens": 256,
                },
                "data": {
                    "description": "Get information about the Everlasting Gobstopper: who to contact, "
                    "the biography of its inventor, current promotions and coupon codes.",
                    "staticData": {
                        "contact": [
                            {"name": "Willy Wonka"},
                            {"title": "Founder and CEO"},
                            {"email": "ww@wwcf.com"},
                        ],
                        "biographical": "Willy Wonka is the reclusive chocolatier who invented the "
                        "Everlasting Gobstopper, a candy that never gets smaller.",
                        "salesPromotions": [{"name": "Everlasting Gobstopper", "price": "$1.00"}],
                        "couponCodes": [{"name": "10% off", "code": "10OFF"}],
                    },
                },
            },
        }


class SqlPluginBroker(_PluginBroker):
    kind = "SqlPlugin"
    plugin_class = "sql"
    manifest_model = SqlPluginManifest

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "SqlPlugin",
            "metadata": {
                "name": "course_catalogue",
                "pluginClass": "sql",
                "description": "Finds courses by topic and price in the course catalogue.",
                "version": "0.1.0",
            },
            "spec": {
                "selector": {"directive": "search_terms", "searchTerms": ["course", "class", "training"]},
                "prompt": {"systemRole": "You are a helpful student advisor. Recommend courses from the catalogue."},
                "connection": "course_catalogue_db",
                "sqlData": {
                    "description": "Returns courses whose description mentions a topic, up to a cost.",
                    "sqlQuery": "SELECT title, description, cost FROM courses "
                    "WHERE (description LIKE '%' || {topic} || '%' OR {topic} IS NULL) "
                    "AND (cost <= {max_cost} OR {max_cost} IS NULL) ORDER BY cost",
                    "parameters": [
                        {
                            "name": "topic",
                            "type": "string",
                            "description": "a topic such as AI, web or databases",
                            "required": False,
                        },
                        {
                            "name": "max_cost",
                            "type": "number",
                            "description": "highest price in USD",
                            "required": False,
                        },
                    ],
                    "testValues": [{"name": "topic", "value": "AI"}, {"name": "max_cost", "value": 500}],
                    "limit": 10,
                },
            },
        }


class ApiPluginBroker(_PluginBroker):
    kind = "ApiPlugin"
    plugin_class = "api"
    manifest_model = ApiPluginManifest

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "ApiPlugin",
            "metadata": {
                "name": "weather_forecast",
                "pluginClass": "api",
                "description": "Today's weather forecast for a place given by its coordinates.",
                "version": "0.1.0",
            },
            "spec": {
                "selector": {
                    "directive": "search_terms",
                    "searchTerms": ["weather", "forecast", "temperature"],
                },
                "prompt": {"systemRole": "Use the weather_forecast tool when asked about the weather."},
                "connection": "weather_api",
                "apiData": {
                    "description": "Current weather at a latitude and longitude.",
                    "endpoint": "/v1/forecast",
                    "method": "GET",
                    "urlParams": [{"key": "current", "value": "temperature_2m,wind_speed_10m"}],
                    "headers": [{"name": "Accept", "value": "application/json"}],
                    "parameters": [
                        {"name": "latitude", "type": "number", "description": "latitude", "required": True},
                        {"name": "longitude", "type": "number", "description": "longitude", "required": True},
                    ],
                    "testValues": [
                        {"name": "latitude", "value": 52.52},
                        {"name": "longitude", "value": 13.41},
                    ],
                    "limit": 10,
                },
            },
        }
