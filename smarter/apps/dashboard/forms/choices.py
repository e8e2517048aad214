"""What a form's lists offer: names of the caller's own resources, from the apps' selectors
(scoped by the account, so another tenant's names are never offered), and fixed vocabularies."""

from __future__ import annotations

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.caller import Caller
from smarter.apps.account.pricing import DEFAULT_PRICES
from smarter.apps.chatbot import selectors as chatbot_selectors
from smarter.apps.knowledge import selectors as knowledge_selectors
from smarter.apps.plugin import selectors as plugin_selectors
from smarter.apps.plugin.builtins import BUILTINS

from .engine import Choice, Choices

NONE: Choice = ("", "(none)")


def fixed(*values: str) -> Choices:
    def choices(caller: Caller) -> list[Choice]:
        return [(value, value) for value in values]

    return choices


def chatbot_providers(caller: Caller) -> list[Choice]:
    own = chatbot_selectors.providers_of(caller.account).values_list("name", flat=True)
    return [("", "the platform's"), ("openai", "openai"), ("offline", "offline"), *((name, name) for name in own)]


def models(caller: Caller) -> list[Choice]:
    """Models the platform prices, and the default model of each of the account's Providers."""
    names = [name for name in DEFAULT_PRICES]
    names += [
        model
        for model in chatbot_selectors.providers_of(caller.account).values_list("default_model", flat=True)
        if model not in names
    ]
    return [(name, name) for name in names]


def plugins(caller: Caller) -> list[Choice]:
    return [
        (plugin.name, f"{plugin.name} ({plugin.plugin_class})")
        for plugin in plugin_selectors.plugins_of(caller.account)
    ]


def functions(caller: Caller) -> list[Choice]:
    return [(name, name) for name in sorted(BUILTINS)]


def api_keys(caller: Caller) -> list[Choice]:
    keys = account_selectors.api_keys_of(caller.account).values_list("name", flat=True)
    return [NONE, *((name, name) for name in keys)]


def secrets(caller: Caller) -> list[Choice]:
    names = account_selectors.secrets_of(caller.account).values_list("name", flat=True)
    return [NONE, *((name, name) for name in names)]


def sql_connections(caller: Caller) -> list[Choice]:
    return [(c.name, c.name) for c in plugin_selectors.sql_connections_of(caller.account)]


def api_connections(caller: Caller) -> list[Choice]:
    return [(c.name, c.name) for c in plugin_selectors.api_connections_of(caller.account)]


def knowledge_bases(caller: Caller) -> list[Choice]:
    return [(kb.name, kb.name) for kb in knowledge_selectors.knowledge_bases_of(caller.account)]


def chatbots(caller: Caller) -> list[Choice]:
    return [(bot.name, bot.name) for bot in chatbot_selectors.chatbots_of(caller.account)]


def embedding_providers(caller: Caller) -> list[Choice]:
    own = chatbot_selectors.providers_of(caller.account).values_list("name", flat=True)
    return [("local", "local"), *((name, name) for name in own)]
