from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from smarter.apps.knowledge.embedding import EmbeddingEndpoint


class ChatbotConfig(AppConfig):
    """Chatbots: configuration, branding, attached plugins, deployment and domains."""

    name = "smarter.apps.chatbot"
    label = "chatbot"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smarter.apps.chatbot import receivers
        from smarter.apps.chatbot.manifests import register_kinds
        from smarter.apps.knowledge.embedding import set_endpoint_resolver
        from smarter.apps.knowledge.providers import set_provider_lookup

        register_kinds()
        receivers.connect()
        # The knowledge app sits below this one: it embeds with an account's Provider through this.
        set_endpoint_resolver(provider_embedding_endpoint)
        set_provider_lookup(provider_exists)


def provider_exists(account_id: int, name: str) -> bool:
    """Whether the account has a Provider `name` (another account's does not count)."""
    from smarter.apps.chatbot.models import Provider

    return Provider.objects.filter(account_id=account_id, name=name).exists()


def provider_embedding_endpoint(account_id: int, name: str) -> EmbeddingEndpoint | None:
    """Where the account's Provider `name` answers, with its revealed key; None if it has none."""
    from smarter.apps.account import services as account_services
    from smarter.apps.chatbot.models import Provider
    from smarter.apps.knowledge.embedding import EmbeddingEndpoint

    provider = Provider.objects.select_related("api_key").filter(account_id=account_id, name=name).first()
    if provider is None:
        return None
    api_key = account_services.secret_reveal(secret=provider.api_key) if provider.api_key else ""
    return EmbeddingEndpoint(base_url=provider.base_url, api_key=api_key or "", timeout=float(provider.timeout))
