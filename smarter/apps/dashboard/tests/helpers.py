"""What the console tests share: resources made through the brokers, and signed-in clients."""

from __future__ import annotations

from typing import Any

from django.test import Client

from smarter.apps.account.selectors import caller_for_user
from smarter.apps.account.tests.factories import Persona
from smarter.lib.manifests import broker_for

PASSWORD = "correct horse battery staple"

CATALOGUE: dict[str, Any] = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "catalogue", "pluginClass": "static", "description": "Our product catalogue"},
    "spec": {
        "selector": {"directive": "search_terms", "searchTerms": ["gizmo"]},
        "data": {
            "description": "Facts about the Gizmo: price and colours",
            "staticData": {"price": "$12.50", "colours": ["red", "teal"]},
        },
    },
}


def chatbot(name: str = "shop", *, plugins: list[str] | None = None, **config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "Chatbot",
        "metadata": {"name": name, "description": "Answers questions about the Gizmo"},
        "spec": {
            "config": {"defaultSystemRole": "You are the Gizmo shop assistant.", **config},
            "plugins": plugins or [],
        },
    }


def apply(persona: Persona, document: dict[str, Any]) -> str:
    caller = caller_for_user(persona.user, persona.account.pk)  # type: ignore[arg-type]
    assert caller is not None
    broker = broker_for(document["kind"])
    return broker.apply(caller, broker.validate(document)).action


def shop(persona: Persona) -> None:
    """The account's catalogue plugin and the `shop` chatbot that attaches it."""
    apply(persona, CATALOGUE)
    apply(persona, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop"))


def signed_in(persona: Persona) -> Client:
    client = Client()
    client.force_login(persona.user)  # type: ignore[arg-type]
    return client


def with_password(persona: Persona) -> Persona:
    persona.user.set_password(PASSWORD)
    persona.user.save(update_fields=["password"])
    return persona
