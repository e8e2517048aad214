"""Kinds `SqlConnection` and `ApiConnection`: how plugins reach a database or a REST API.

Credentials are never in the manifest: `password` / `apiKey` name a Secret of the same account.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from django.db.models import QuerySet
from pydantic import Field, ValidationInfo, field_validator

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.models import Secret
from smarter.apps.account.secret_policy import BindingFields, SecretBindingRule
from smarter.apps.plugin import selectors, services
from smarter.apps.plugin.health import api_connection_health, sql_connection_health
from smarter.apps.plugin.manifests.common import PluginKindErrors
from smarter.apps.plugin.models import ApiConnection, SqlConnection
from smarter.apps.plugin.sql_runner import missing_driver
from smarter.apps.plugin.sqlite_files import DatabaseFileRefused, database_file
from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Column, ModelBroker, RowServices
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName, section_manifest
from smarter.lib.outbound import server_host, server_url

HEADER_NAME = r"^[A-Za-z0-9-]{1,128}$"


def secret_for(caller: Caller, name: str | None, loc: str, problems: list[FieldError]) -> Secret | None:
    """The caller's Secret `name`, or a problem at `loc` (another account's secret is unknown)."""
    if name is None:
        return None
    secret = account_selectors.secret_get(account=caller.account, name=name)
    if secret is None:
        problems.append(FieldError(loc, f"no Secret named {name!r} in your account"))
    return secret


Connection = TypeVar("Connection", SqlConnection, ApiConnection)


class _ConnectionBroker(PluginKindErrors, SecretBindingRule, ModelBroker[Connection]):
    """Members may write connections, within the rule of the Secrets they name."""

    write_role = "member"
    section = "connection"

    def status_of(self, row: Connection) -> dict[str, Any]:
        return {"health": self.health(row), "usedBy": sorted(row.plugins.values_list("name", flat=True))}

    def health(self, row: Connection) -> dict[str, Any]:
        raise NotImplementedError


# --- SqlConnection ----------------------------------------------------------------------------
class SqlConnectionConfig(CamelModel):
    db_engine: Literal["mysql", "postgresql", "sqlite"]
    hostname: str = Field("", max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    database: str = Field(min_length=1, max_length=1024)
    username: str = Field("", max_length=255)
    password: ResourceName | None = Field(None, description="name of a Secret holding the password")
    timeout: float = Field(10.0, gt=0, le=60, description="seconds, for connecting and for each query")

    @field_validator("hostname")
    @classmethod
    def _host(cls, value: str, info: ValidationInfo) -> str:
        # Normalised as the driver's resolver will read it; refused in any spelling of an
        # address the platform may not connect to. SQLite does not use it.
        if not value or info.data.get("db_engine") == "sqlite":
            return value
        return server_host(value)


SqlConnectionManifest = section_manifest("SqlConnection", "connection", SqlConnectionConfig)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _control_characters(config: SqlConnectionConfig) -> list[FieldError]:
    """A NUL byte or a line break reaches no database: drivers fail on them, so refuse them here.
    (A SQLite `database` is checked whole by the file name rule.)"""
    fields = {"username": config.username}
    if config.db_engine != "sqlite":
        fields["database"] = config.database
    return [
        FieldError(f"spec.connection.{field}", "must not contain control characters such as a NUL byte or a line break")
        for field, value in fields.items()
        if _CONTROL.search(value)
    ]


class SqlConnectionBroker(_ConnectionBroker[SqlConnection]):
    kind = "SqlConnection"
    manifest_model = SqlConnectionManifest
    columns = (Column("name"), Column("description"), Column("dbEngine"), Column("hostname"), Column("database"))
    writes = RowServices(services, "sql_connection", row="connection")
    # A member may not name a Secret in a connection, nor change its target fields while one is named.
    binding = BindingFields.of(
        "spec.connection", secrets=["password"], target=["db_engine", "hostname", "port", "database", "username"]
    )

    def rows(self, caller: Caller) -> QuerySet[SqlConnection]:
        return selectors.sql_connections_of(caller.account)

    def health(self, row: SqlConnection) -> dict[str, Any]:
        return sql_connection_health(row)

    def fields_of(self, caller: Caller, manifest: Any, row: SqlConnection | None) -> dict[str, Any]:
        config = manifest.spec.connection
        problems: list[FieldError] = []
        if config.db_engine == "sqlite":
            try:
                database_file(config.database, account_number=caller.account.account_number)
            except DatabaseFileRefused as refused:
                problems.append(FieldError("spec.connection.database", str(refused)))
        else:
            if not config.hostname:
                problems.append(FieldError("spec.connection.hostname", f"required for {config.db_engine}"))
            missing = missing_driver(config.db_engine)
            if missing is not None:
                problems.append(FieldError("spec.connection.dbEngine", missing))
        problems += _control_characters(config)
        secret = secret_for(caller, config.password, "spec.connection.password", problems)
        if problems:
            raise self.invalid(manifest.metadata.name, problems)
        return {**super().fields_of(caller, manifest, row), "password": secret}


# --- ApiConnection ----------------------------------------------------------------------------
class ApiConnectionConfig(CamelModel):
    base_url: str = Field(min_length=1, max_length=2048)
    auth_method: Literal["none", "basic", "token", "header"] = "none"
    api_key: ResourceName | None = Field(None, description="name of a Secret holding the credential")
    username: str = Field("", max_length=255, description="the user name, for basic authentication")
    header_name: str = Field("", pattern=r"^$|" + HEADER_NAME, description="for header authentication")
    timeout: float = Field(10.0, gt=0, le=60)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        # Stored as the HTTP client will read it (IDNA, case, numeric spellings resolved).
        return server_url(value)


ApiConnectionManifest = section_manifest("ApiConnection", "connection", ApiConnectionConfig)


class ApiConnectionBroker(_ConnectionBroker[ApiConnection]):
    kind = "ApiConnection"
    manifest_model = ApiConnectionManifest
    columns = (Column("name"), Column("description"), Column("baseUrl"), Column("authMethod"))
    writes = RowServices(services, "api_connection", row="connection")
    binding = BindingFields.of(
        "spec.connection", secrets=["api_key"], target=["base_url", "auth_method", "username", "header_name"]
    )

    def rows(self, caller: Caller) -> QuerySet[ApiConnection]:
        return selectors.api_connections_of(caller.account)

    def health(self, row: ApiConnection) -> dict[str, Any]:
        return api_connection_health(row)

    def fields_of(self, caller: Caller, manifest: Any, row: ApiConnection | None) -> dict[str, Any]:
        config = manifest.spec.connection
        problems: list[FieldError] = []
        if config.auth_method != "none" and not config.api_key:
            problems.append(FieldError("spec.connection.apiKey", f"required when authMethod is {config.auth_method}"))
        if config.auth_method == "basic" and not config.username:
            problems.append(FieldError("spec.connection.username", "required when authMethod is basic"))
        secret = secret_for(caller, config.api_key, "spec.connection.apiKey", problems)
        if problems:
            raise self.invalid(manifest.metadata.name, problems)
        header_name = config.header_name or ("X-API-Key" if config.auth_method == "header" else "")
        return {**super().fields_of(caller, manifest, row), "api_key": secret, "header_name": header_name}
