"""Test data for the knowledge app, made through its services and manifests (the real paths)."""

from __future__ import annotations

from typing import Any

from smarter.apps.account.models import Account
from smarter.apps.knowledge import services
from smarter.apps.knowledge.models import KnowledgeBase

MANUAL = """# Gizmo user manual

## Charging

Plug the Gizmo into the blue dock. A full charge takes 90 minutes and the light turns green.

## Cleaning

Wipe the Gizmo with a dry cloth. Never put it in the dishwasher: water ruins the motor.
"""

RECIPES = """# Soup recipes

Tomato soup needs six ripe tomatoes, an onion and basil. Simmer for twenty minutes.
"""


def knowledge_base_manifest(name: str = "manual", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": "KnowledgeBase", "metadata": {"name": name}, "spec": spec}


def make_knowledge_base(account: Account, name: str = "manual", **sections: Any) -> KnowledgeBase:
    """A knowledge base with the manifest's defaults (local embedding, recursive 256/32, hybrid 5)."""
    fields: dict[str, Any] = {
        "embedding": {"provider": "local", "model": "all-MiniLM-L6-v2"},
        "chunking": {"strategy": "recursive", "size": 256, "overlap": 32},
        "retrieval": {"mode": "hybrid", "topK": 5},
    }
    fields.update(sections)
    return services.knowledge_base_create(account=account, name=name, **fields)
