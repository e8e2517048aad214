"""Which provider answers a turn: `provider_for(...)` for a named one, `platform_provider()` for
the operator's default as configured in settings."""

from __future__ import annotations

import aiohttp
from django.conf import settings

from smarter.apps.chat.providers.base import ChatProvider
from smarter.apps.chat.providers.offline import OFFLINE_MODEL, OfflineProvider
from smarter.apps.chat.providers.openai_compatible import OpenAICompatibleProvider

PLATFORM_PROVIDERS = ("openai", "offline")


def provider_for(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    http_session: aiohttp.ClientSession | None = None,
    max_retries: int = 0,
    guarded: bool = False,
) -> ChatProvider:
    """A provider for one turn, holding exactly the credentials given here.

    - `offline`: the built-in model; key and URL are ignored.
    - `openai`: OpenAI, or the server at `base_url` (default api.openai.com).
    - any other name: an account's own OpenAI-compatible endpoint (a Provider manifest);
      `base_url` is required and errors name the provider by `name`. Pass `guarded=True` so
      every connection's address is checked by the outbound guard before it opens.
    """
    if name == "offline":
        return OfflineProvider()
    if name != "openai" and not base_url:
        raise ValueError(f"provider {name!r} needs a base_url")
    return OpenAICompatibleProvider(
        name=name,
        api_key=api_key,
        base_url=base_url,
        http_session=http_session,
        max_retries=max_retries,
        guarded=guarded,
    )


def platform_provider(*, http_session: aiohttp.ClientSession | None = None) -> ChatProvider:
    """The operator's provider: SMARTER_LLM_PROVIDER with the platform's key and base URL."""
    name = settings.SMARTER.effective_llm_provider
    if name == "offline":
        return OfflineProvider()
    return provider_for(
        "openai",
        api_key=settings.SMARTER.platform_openai_key,
        base_url=settings.SMARTER.openai_base_url,
        http_session=http_session,
    )


def platform_default_model() -> str:
    """The model to ask for when a chatbot names none."""
    return OFFLINE_MODEL if settings.SMARTER.effective_llm_provider == "offline" else settings.SMARTER.default_model
