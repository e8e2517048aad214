"""Kind `KnowledgePlugin` (`metadata.pluginClass: knowledge`): a tool that searches one of the
account's knowledge bases with the model's query and hands back the best chunks, which the
answer cites.

`kind: Plugin` with `metadata.pluginClass: knowledge` is accepted too, as for sql and api. Its
broker is `KnowledgePluginBroker` in `plugins.py`, beside the other classes' brokers; this module
holds what is particular to the class: its spec, and the knowledge base it names, found in the
caller's own account only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from smarter.apps.account.models import Account
from smarter.apps.knowledge.models import KnowledgeBase
from smarter.apps.knowledge.selectors import knowledge_base_get
from smarter.apps.plugin.manifests.common import PluginMetadata, PluginSpecBase
from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Manifest
from smarter.lib.manifests.envelope import ResourceName

KNOWLEDGE_BASE_LOC = "spec.knowledge.knowledgeBase"


class KnowledgeData(CamelModel):
    knowledge_base: ResourceName = Field(description="name of a KnowledgeBase of your account")
    top_k: int | None = Field(
        None, ge=1, le=50, description="chunks handed to the model per search; default: the knowledge base's topK"
    )
    description: str = Field(
        min_length=1, max_length=2000, description="what the model reads to decide when to search the documents"
    )


class KnowledgePluginSpec(PluginSpecBase):
    knowledge: KnowledgeData


class KnowledgePluginManifest(Manifest):
    kind: Literal["KnowledgePlugin", "Plugin"] = "KnowledgePlugin"
    metadata: PluginMetadata
    spec: KnowledgePluginSpec


def knowledge_base_of(*, account: Account, spec: KnowledgePluginSpec) -> KnowledgeBase | FieldError:
    """The knowledge base the spec names, or the error at its field. Another account's knowledge
    base reads exactly like one that does not exist: its name tells an outsider nothing."""
    name = spec.knowledge.knowledge_base
    knowledge_base = knowledge_base_get(account=account, name=name)
    if knowledge_base is None:
        return FieldError(KNOWLEDGE_BASE_LOC, f"no KnowledgeBase named {name!r} in your account")
    return knowledge_base
