"""Kinds `Plugin` (static), `SqlPlugin`, `ApiPlugin` and `KnowledgePlugin`.

`kind: Plugin` also accepts `metadata.pluginClass: sql|api|knowledge` (the original format used
one kind for every class); `get plugins` lists every class, `get sqlplugins` only SQL ones.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from django.db.models import QuerySet
from pydantic import Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from smarter.apps.plugin import selectors, services
from smarter.apps.plugin.health import api_connection_health, sql_connection_health
from smarter.apps.plugin.manifests.common import (
    Parameter,
    PluginKindErrors,
    PluginMetadata,
    PluginSpecBase,
    TestValue,
    parameter_problems,
    selector_problems,
)
from smarter.apps.plugin.manifests.knowledge import KnowledgePluginManifest, knowledge_base_of
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.sql_guard import UnsafeQuery, check_query
from smarter.apps.plugin.tools import tool_schema
from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, RowServices
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName
from smarter.lib.outbound import check_url_characters


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
    "knowledge": KnowledgePluginManifest,
}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


# Where each class keeps its class-specific part in the spec; the model keeps it as `data`.
DATA_OF_CLASS = {"static": "data", "sql": "sql_data", "api": "api_data", "knowledge": "knowledge"}


class _PluginBroker(PluginKindErrors, ModelBroker[Plugin]):
    """The plugin kinds. A plugin keeps its selector, prompt overlay and class-specific part as
    the spec's own JSON (validated on apply), so describe shows them as they were applied."""

    plugin_class: ClassVar[str]
    write_role = "member"
    columns = (Column("name"), Column("description"), Column("pluginClass"), Column("directive"))
    writes = RowServices(services, "plugin")

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
            raise self.invalid(name, self.problems(error)) from None
        problems = []
        if declared is not None and declared != plugin_class:
            problems.append(FieldError("metadata.pluginClass", f"must be {plugin_class} for kind {self.kind}"))
        problems += selector_problems(manifest.spec.selector)
        data = getattr(manifest.spec, "sql_data", None) or getattr(manifest.spec, "api_data", None)
        if data is not None:
            prefix = "spec.sqlData" if plugin_class == "sql" else "spec.apiData"
            problems += parameter_problems(data.parameters, data.test_values, prefix)
        if problems:
            raise self.invalid(name, problems)
        manifest.metadata.plugin_class = plugin_class  # type: ignore[attr-defined]
        return manifest

    # --- apply ----------------------------------------------------------------------------
    def find(self, caller: Caller, name: str) -> Plugin | None:
        return selectors.plugin_get(account=caller.account, name=name)  # of any class: a class is not changed

    def fields_of(self, caller: Caller, manifest: Any, row: Plugin | None) -> dict[str, Any]:
        spec, plugin_class = manifest.spec, manifest.metadata.plugin_class
        fields: dict[str, Any] = {
            **self.metadata_fields(manifest),
            "plugin_class": plugin_class,
            "selector": _clean(spec.selector.model_dump(by_alias=True, mode="json")),
            "prompt": _clean(spec.prompt.model_dump(by_alias=True, mode="json")),
            "data": getattr(spec, DATA_OF_CLASS[plugin_class]).model_dump(by_alias=True, mode="json"),
            "sql_connection": None,
            "api_connection": None,
            "knowledge_base": None,
        }
        problems: list[FieldError] = []
        if plugin_class == "sql":
            fields["sql_connection"] = connection = selectors.sql_connection_get(
                account=caller.account, name=spec.connection
            )
            if connection is None:
                problems.append(_no_connection("SqlConnection", spec.connection))
            else:
                names = {parameter.name for parameter in spec.sql_data.parameters}
                try:
                    check_query(spec.sql_data.sql_query, engine=connection.db_engine, parameter_names=names)
                except UnsafeQuery as error:
                    problems.append(FieldError("spec.sqlData.sqlQuery", str(error)))
        elif plugin_class == "api":
            fields["api_connection"] = selectors.api_connection_get(account=caller.account, name=spec.connection)
            if fields["api_connection"] is None:
                problems.append(_no_connection("ApiConnection", spec.connection))
        elif plugin_class == "knowledge":
            found = knowledge_base_of(account=caller.account, spec=spec)
            if isinstance(found, FieldError):
                problems.append(found)
            else:
                fields["knowledge_base"] = found
        if problems:
            raise self.invalid(manifest.metadata.name, problems)
        if row is not None and row.plugin_class != plugin_class:
            reason = f"plugin {row.name!r} exists as {row.plugin_class}; delete it first to change its class"
            raise self.invalid(row.name, [FieldError("metadata.pluginClass", reason)])
        return fields

    # --- reads ----------------------------------------------------------------------------
    def _listed_class(self) -> str | None:
        return self.plugin_class

    def rows(self, caller: Caller) -> QuerySet[Plugin]:
        return selectors.plugins_of(caller.account, plugin_class=self._listed_class())

    def row(self, caller: Caller, name: str) -> Plugin:
        plugin = selectors.plugin_get(account=caller.account, name=name, plugin_class=self._listed_class())
        if plugin is None:
            raise self.not_found(name)
        return plugin

    def manifest_of(self, row: Plugin) -> dict[str, Any]:
        return {**super().manifest_of(row), "kind": row.kind}  # `describe plugin x` of a SQL plugin

    def metadata_of(self, row: Plugin) -> dict[str, Any]:
        name, *rest = super().metadata_of(row).items()
        return dict([name, ("pluginClass", row.plugin_class), *rest])

    def spec_of(self, row: Plugin) -> dict[str, Any]:
        spec: dict[str, Any] = {"selector": row.selector, "prompt": row.prompt}
        connection = row.sql_connection or row.api_connection
        if connection is not None:
            spec["connection"] = connection.name
        spec[to_camel(DATA_OF_CLASS[row.plugin_class])] = row.data
        return spec

    def status_of(self, row: Plugin) -> dict[str, Any]:
        status: dict[str, Any] = {"toolSchema": tool_schema(row)}
        if row.sql_connection is not None:
            status["connection"] = {"name": row.sql_connection.name, **sql_connection_health(row.sql_connection)}
        elif row.api_connection is not None:
            status["connection"] = {"name": row.api_connection.name, **api_connection_health(row.api_connection)}
        elif row.knowledge_base is not None:
            status["knowledgeBase"] = {"name": row.knowledge_base.name}
        return status


def _no_connection(kind: str, name: str) -> FieldError:
    return FieldError("spec.connection", f"no {kind} named {name!r} in your account")


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


class SqlPluginBroker(_PluginBroker):
    kind = "SqlPlugin"
    plugin_class = "sql"
    manifest_model = SqlPluginManifest


class ApiPluginBroker(_PluginBroker):
    kind = "ApiPlugin"
    plugin_class = "api"
    manifest_model = ApiPluginManifest


class KnowledgePluginBroker(_PluginBroker):
    kind = "KnowledgePlugin"
    plugin_class = "knowledge"
    manifest_model = KnowledgePluginManifest
