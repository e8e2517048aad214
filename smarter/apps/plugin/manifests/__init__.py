"""Manifest kinds of the plugin app: Plugin, SqlPlugin, ApiPlugin, KnowledgePlugin, SqlConnection,
ApiConnection."""

from smarter.apps.plugin.manifests.connections import ApiConnectionBroker, SqlConnectionBroker
from smarter.apps.plugin.manifests.plugins import (
    ApiPluginBroker,
    KnowledgePluginBroker,
    SqlPluginBroker,
    StaticPluginBroker,
)
from smarter.lib.manifests import register


def register_kinds() -> None:
    for broker in (
        StaticPluginBroker(),
        SqlPluginBroker(),
        ApiPluginBroker(),
        KnowledgePluginBroker(),
        SqlConnectionBroker(),
        ApiConnectionBroker(),
    ):
        register(broker)
