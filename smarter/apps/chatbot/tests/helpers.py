"""What the chatbot deployment tests share: manifests, and calls through the real cli endpoints."""

from __future__ import annotations

from typing import Any

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY

CATALOGUE = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "catalogue", "pluginClass": "static", "description": "Our product catalogue"},
    "spec": {
        "selector": {"directive": "always"},
        "data": {
            "description": "Facts about the Gizmo: price and colours",
            "staticData": {"price": "$12.50", "colours": ["red", "teal"]},
        },
    },
}


def chatbot_manifest(name: str = "support", *, plugins: list[str] | None = None, **config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "Chatbot",
        "metadata": {"name": name},
        "spec": {"config": config, "plugins": plugins or []},
    }


def apply(persona: Persona, document: dict[str, Any]) -> dict[str, Any]:
    response = persona.client.post(APPLY, data=document, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def deploy(persona: Persona, name: str, verb: str = "deploy") -> Any:
    return persona.client.post(f"/api/v1/cli/{verb}/Chatbot/?name={name}")
