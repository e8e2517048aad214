"""Plugins (static, sql, api, knowledge) and the connections SQL and REST plugins run through.

A plugin keeps its manifest's class-specific part (`data`, `sqlData` or `apiData`), selector and
prompt overlay as validated JSON (the Pydantic models in `manifests` are their schema), so
describe returns exactly what was applied. Connections, secrets and knowledge bases are real
foreign keys (RESTRICT and PROTECT): deleting something still in use is refused with a 409
naming the users.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from smarter.apps.account.models import Account, Secret, TimestampedModel
from smarter.apps.knowledge.models import KnowledgeBase


class PluginClass(models.TextChoices):
    STATIC = "static", "Static"
    SQL = "sql", "SQL"
    API = "api", "REST API"
    KNOWLEDGE = "knowledge", "Knowledge base"


# The manifest kind of each class; `kind: Plugin` with `metadata.pluginClass` is accepted for all.
KIND_OF_CLASS = {"static": "Plugin", "sql": "SqlPlugin", "api": "ApiPlugin", "knowledge": "KnowledgePlugin"}


class DbEngine(models.TextChoices):
    MYSQL = "mysql", "MySQL / MariaDB"
    POSTGRESQL = "postgresql", "PostgreSQL"
    SQLITE = "sqlite", "SQLite"


class AuthMethod(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "HTTP basic"
    TOKEN = "token", "Bearer token"
    HEADER = "header", "Custom header"


class SqlConnection(TimestampedModel):
    """How to reach a customer's database. The password is a Secret of the same account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sql_connections")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    db_engine = models.CharField(max_length=16, choices=DbEngine.choices)
    hostname = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    database = models.CharField(max_length=1024)
    username = models.CharField(max_length=255, blank=True)
    password = models.ForeignKey(
        Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="sql_connections"
    )
    timeout = models.FloatField(default=10.0, help_text="seconds: connect and statement timeout")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="sqlconnection_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiConnection(TimestampedModel):
    """A REST API's base URL and how to authenticate to it; the credential is a Secret."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_connections")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    base_url = models.CharField(max_length=2048)
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices, default=AuthMethod.NONE)
    api_key = models.ForeignKey(
        Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="api_connections"
    )
    username = models.CharField(max_length=255, blank=True, help_text="for basic authentication")
    header_name = models.CharField(max_length=128, blank=True, help_text="for header authentication")
    timeout = models.FloatField(default=10.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="apiconnection_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plugin(TimestampedModel):
    """A tool a chatbot can offer the model. One table for every class."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plugins")
    name = models.SlugField(max_length=50)
    plugin_class = models.CharField(max_length=16, choices=PluginClass.choices)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=list, blank=True)
    # {"directive": ..., "searchTerms": [...]}
    selector = models.JSONField(default=dict)
    # {"provider", "systemRole", "model", "temperature", "maxTokens"}, each optional
    prompt = models.JSONField(default=dict, blank=True)
    # the manifest's data / sqlData / apiData / knowledge, as applied (camelCase)
    data = models.JSONField(default=dict)
    # RESTRICT, not PROTECT: deleting a connection in use is refused (409), but deleting the
    # whole account, which takes plugins and connections together, is not.
    sql_connection = models.ForeignKey(
        SqlConnection, on_delete=models.RESTRICT, null=True, blank=True, related_name="plugins"
    )
    api_connection = models.ForeignKey(
        ApiConnection, on_delete=models.RESTRICT, null=True, blank=True, related_name="plugins"
    )
    # The knowledge base a knowledge plugin searches; RESTRICT like the connections above.
    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.RESTRICT, null=True, blank=True, related_name="plugins"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="plugin_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return KIND_OF_CLASS[self.plugin_class]

    @property
    def directive(self) -> str:
        return str(self.selector.get("directive", "always"))

    @property
    def search_terms(self) -> list[str]:
        return list(self.selector.get("searchTerms") or [])

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.data.get("parameters") or [])

    @property
    def tool_description(self) -> str:
        return str(self.data.get("description") or self.description or self.name)
