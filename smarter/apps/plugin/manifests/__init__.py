"""Manifest kinds of the plugin app: Plugin, SqlPlugin, ApiPlugin, SqlConnection, ApiConnection."""

from smarter.apps.plugin.manifests.connections import ApiConnectionBroker, SqlConnectionBroker
from smarter.apps.plugin.manifests.plugins import ApiPluginBroker, SqlPluginBroker, StaticPluginBroker
from smarter.lib.manifests import register


def register_kinds() -> None:
    for broker in (
        StaticPluginBroker(),
        SqlPluginBroker(),
        ApiPluginBroker(),
        SqlConnectionBroker(),
        ApiConnectionBroker(),
    ):
        register(broker)
