"""Kinds `SqlConnection` and `ApiConnection`: how plugins reach a database or a REST API.

Credentials are never in the manifest: `password` / `apiKey` name a Secret of the same account.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.models import Secret
from smarter.apps.account.secret_policy import BindingFields, secret_binding_authorize
from smarter.apps.plugin import selectors, services
from smarter.apps.plugin.health import api_connection_health, sql_connection_health
from smarter.apps.plugin.manifests.common import pydantic_problems, validation_failed
from smarter.apps.plugin.models import ApiConnection, SqlConnection
from smarter.apps.plugin.sqlite_files import DatabaseFileRefused, database_file
from smarter.lib.errors import FieldError
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest, Metadata
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName
from smarter.lib.outbound import server_host, server_url

HEADER_NAME = r"^[A-Za-z0-9-]{1,128}$"


def _metadata(instance: Any) -> dict[str, Any]:
    return {
        "name": instance.name,
        "description": instance.description,
        "version": instance.version,
        "tags": [],
        "annotations": [],
    }


def secret_for(caller: Caller, name: str | None, loc: str, problems: list[FieldError]) -> Secret | None:
    """The caller's Secret `name`, or a problem at `loc` (another account's secret is unknown)."""
    if name is None:
        return None
    secret = account_selectors.secret_get(account=caller.account, name=name)
    if secret is None:
        problems.append(FieldError(loc, f"no Secret named {name!r} in your account"))
    return secret


class _ValidatingBroker(Broker):
    write_role = "member"

    def validate(self, document: dict[str, Any]) -> Manifest:
        try:
            return self.manifest_model.model_validate({**document, "kind": self.kind})
        except ValidationError as error:
            metadata = document.get("metadata")
            name = metadata.get("name") if isinstance(metadata, dict) else None
            raise validation_failed(self.kind, name, pydantic_problems(error)) from None


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


class SqlConnectionSpec(CamelModel):
    connection: SqlConnectionConfig


class SqlConnectionManifest(Manifest):
    kind: Literal["SqlConnection"] = "SqlConnection"
    spec: SqlConnectionSpec


# A member may not name a Secret in a connection, nor change its target fields while one is named.
SQL_BINDING = BindingFields(
    secrets={"password": "spec.connection.password"},
    target={
        "db_engine": "spec.connection.dbEngine",
        "hostname": "spec.connection.hostname",
        "port": "spec.connection.port",
        "database": "spec.connection.database",
        "username": "spec.connection.username",
    },
)
API_BINDING = BindingFields(
    secrets={"api_key": "spec.connection.apiKey"},
    target={
        "base_url": "spec.connection.baseUrl",
        "auth_method": "spec.connection.authMethod",
        "username": "spec.connection.username",
        "header_name": "spec.connection.headerName",
    },
)


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


class SqlConnectionBroker(_ValidatingBroker):
    kind = "SqlConnection"
    manifest_model = SqlConnectionManifest
    columns = (
        Column("name"),
        Column("description"),
        Column("dbEngine"),
        Column("hostname"),
        Column("database"),
    )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        config = manifest.spec.connection
        name = manifest.metadata.name
        problems: list[FieldError] = []
        if config.db_engine == "sqlite":
            try:
                database_file(config.database, account_number=caller.account.account_number)
            except DatabaseFileRefused as refused:
                problems.append(FieldError("spec.connection.database", str(refused)))
        else:
            if not config.hostname:
                problems.append(FieldError("spec.connection.hostname", f"required for {config.db_engine}"))
        problems += _control_characters(config)
        secret = secret_for(caller, config.password, "spec.connection.password", problems)
        if problems:
            raise validation_failed(self.kind, name, problems)
        fields = {
            "description": manifest.metadata.description,
            "version": manifest.metadata.version,
            "db_engine": config.db_engine,
            "hostname": config.hostname,
            "port": config.port,
            "database": config.database,
            "username": config.username,
            "password": secret,
            "timeout": config.timeout,
        }
        connection = selectors.sql_connection_get(account=caller.account, name=name)
        secret_binding_authorize(
            caller=caller,
            kind=self.kind,
            name=name,
            before=SQL_BINDING.read(connection),
            after=SQL_BINDING.read(fields),
        )
        if connection is None:
            connection = services.sql_connection_create(account=caller.account, name=name, **fields)
            return ApplyOutcome("created", self._describe(connection))
        changed = services.sql_connection_update(connection=connection, **fields)
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(connection))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": connection.name,
                "description": connection.description,
                "dbEngine": connection.db_engine,
                "hostname": connection.hostname,
                "database": connection.database,
            }
            for connection in selectors.sql_connections_of(caller.account)
        ]

    def _get(self, caller: Caller, name: str) -> SqlConnection:
        connection = selectors.sql_connection_get(account=caller.account, name=name)
        if connection is None:
            raise self.not_found(name)
        return connection

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, connection: SqlConnection) -> dict[str, Any]:
        return self.envelope(
            _metadata(connection),
            {
                "connection": {
                    "dbEngine": connection.db_engine,
                    "hostname": connection.hostname,
                    "port": connection.port,
                    "database": connection.database,
                    "username": connection.username,
                    "password": connection.password.name if connection.password else None,
                    "timeout": connection.timeout,
                }
            },
            {
                "health": sql_connection_health(connection),
                "usedBy": sorted(connection.plugins.values_list("name", flat=True)),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        connection = self._get(caller, name)
        self.check_can_write(caller)
        secret_binding_authorize(
            caller=caller, kind=self.kind, name=name, before=SQL_BINDING.read(connection), after=None
        )
        services.sql_connection_delete(connection=connection)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "SqlConnection",
            "metadata": {
                "name": "course_catalogue_db",
                "description": "The course catalogue, a SQLite file in the plugin data folder",
                "version": "0.1.0",
            },
            "spec": {
                "connection": {
                    "dbEngine": "sqlite",
                    "database": "course_catalogue.sqlite3",
                    "timeout": 5,
                }
            },
        }


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


class ApiConnectionSpec(CamelModel):
    connection: ApiConnectionConfig


class ApiConnectionManifest(Manifest):
    kind: Literal["ApiConnection"] = "ApiConnection"
    spec: ApiConnectionSpec


class ApiConnectionBroker(_ValidatingBroker):
    kind = "ApiConnection"
    manifest_model = ApiConnectionManifest
    columns = (Column("name"), Column("description"), Column("baseUrl"), Column("authMethod"))

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        config = manifest.spec.connection
        name = manifest.metadata.name
        problems: list[FieldError] = []
        if config.auth_method != "none" and not config.api_key:
            problems.append(FieldError("spec.connection.apiKey", f"required when authMethod is {config.auth_method}"))
        if config.auth_method == "basic" and not config.username:
            problems.append(FieldError("spec.connection.username", "required when authMethod is basic"))
        secret = secret_for(caller, config.api_key, "spec.connection.apiKey", problems)
        if problems:
            raise validation_failed(self.kind, name, problems)
        fields = {
            "description": manifest.metadata.description,
            "version": manifest.metadata.version,
            "base_url": config.base_url,
            "auth_method": config.auth_method,
            "api_key": secret,
            "username": config.username,
            "header_name": config.header_name or ("X-API-Key" if config.auth_method == "header" else ""),
            "timeout": config.timeout,
        }
        connection = selectors.api_connection_get(account=caller.account, name=name)
        secret_binding_authorize(
            caller=caller,
            kind=self.kind,
            name=name,
            before=API_BINDING.read(connection),
            after=API_BINDING.read(fields),
        )
        if connection is None:
            connection = services.api_connection_create(account=caller.account, name=name, **fields)
            return ApplyOutcome("created", self._describe(connection))
        changed = services.api_connection_update(connection=connection, **fields)
        return ApplyOutcome("updated" if changed else "unchanged", self._describe(connection))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": connection.name,
                "description": connection.description,
                "baseUrl": connection.base_url,
                "authMethod": connection.auth_method,
            }
            for connection in selectors.api_connections_of(caller.account)
        ]

    def _get(self, caller: Caller, name: str) -> ApiConnection:
        connection = selectors.api_connection_get(account=caller.account, name=name)
        if connection is None:
            raise self.not_found(name)
        return connection

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, connection: ApiConnection) -> dict[str, Any]:
        return self.envelope(
            _metadata(connection),
            {
                "connection": {
                    "baseUrl": connection.base_url,
                    "authMethod": connection.auth_method,
                    "apiKey": connection.api_key.name if connection.api_key else None,
                    "username": connection.username,
                    "headerName": connection.header_name,
                    "timeout": connection.timeout,
                }
            },
            {
                "health": api_connection_health(connection),
                "usedBy": sorted(connection.plugins.values_list("name", flat=True)),
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        connection = self._get(caller, name)
        self.check_can_write(caller)
        secret_binding_authorize(
            caller=caller, kind=self.kind, name=name, before=API_BINDING.read(connection), after=None
        )
        services.api_connection_delete(connection=connection)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "ApiConnection",
            "metadata": {
                "name": "weather_api",
                "description": "Open-Meteo's public forecast API (no key needed)",
                "version": "0.1.0",
            },
            "spec": {"connection": {"baseUrl": "https://api.open-meteo.com", "authMethod": "none", "timeout": 10}},
        }


__all__ = ["ApiConnectionBroker", "Metadata", "SqlConnectionBroker"]
