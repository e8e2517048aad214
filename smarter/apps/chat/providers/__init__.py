"""LLM providers behind one interface: `ChatProvider.complete()` and `.stream()`.

The turn pipeline picks one with `provider_for(name, api_key=..., base_url=...)` (or
`platform_provider()`), sends a `ProviderRequest` and gets a `ProviderReply`, or a stream of
`TextDelta`, `ToolCallReady` and a final `Completed`. Upstream failures raise `UpstreamError`
(502) or `UpstreamTimeout` (504) from `smarter.lib.errors`. This package depends only on `lib`
and Django settings, so any app may use it.
"""

from smarter.apps.chat.providers.base import (
    ChatProvider,
    Completed,
    Message,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
)
from smarter.apps.chat.providers.factory import platform_default_model, platform_provider, provider_for
from smarter.apps.chat.providers.offline import OFFLINE_MODEL, OfflineProvider
from smarter.apps.chat.providers.openai_compatible import OpenAICompatibleProvider

__all__ = [
    "OFFLINE_MODEL",
    "ChatProvider",
    "Completed",
    "Message",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "ProviderEvent",
    "ProviderReply",
    "ProviderRequest",
    "TextDelta",
    "ToolCall",
    "ToolCallReady",
    "Usage",
    "platform_default_model",
    "platform_provider",
    "provider_for",
]
