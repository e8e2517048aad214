"""Which upstream answers a model call, and with which credentials: the one choice the turn
pipeline makes for a turn and the evaluation judge makes for its calls.

A name is `offline`, `openai` (the platform's key and base URL) or an account's own Provider.
`openai` on a platform with no OpenAI configured becomes the offline model, which says so in
its answer. The platform's key is only for priced models (`needs_price`): the caller refuses an
unpriced one with an error that names its own field.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from smarter.apps.account import pricing
from smarter.apps.account import services as account_services
from smarter.apps.account.models import Account
from smarter.apps.chat.providers.base import DEFAULT_TIMEOUT_SECONDS, ChatProvider
from smarter.apps.chat.providers.factory import platform_default_model, provider_for
from smarter.apps.chat.providers.offline import OFFLINE_MODEL
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import provider_of_turn


@dataclass(frozen=True)
class Upstream:
    """A resolved provider: its name, the model to ask, and what connecting to it needs."""

    provider: str
    model: str
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    guarded: bool = False  # an account's own endpoint: every address is checked before connecting

    @property
    def needs_price(self) -> bool:
        """The platform's own key pays, and the account is charged from the price table."""
        return self.provider == "openai"

    @property
    def priced(self) -> bool:
        return pricing.is_priced(provider=self.provider, model=self.model)

    def client(self) -> ChatProvider:
        return provider_for(self.provider, api_key=self.api_key, base_url=self.base_url, guarded=self.guarded)


def platform_provider_name() -> str:
    """The provider a call without one uses: the platform's (SMARTER_LLM_PROVIDER)."""
    return str(settings.SMARTER.effective_llm_provider)


def upstream_for(*, account: Account, name: str, model: str | None, chatbot: Chatbot | None = None) -> Upstream | None:
    """The upstream `name` means for this account, asking `model` (else the provider's default);
    None when `name` is no Provider of the account. `chatbot`: the turn's, whose provider a door
    may have read already."""
    if name == "openai" and not (settings.SMARTER.platform_openai_key or settings.SMARTER.openai_base_url):
        name = "offline"
    if name == "offline":
        return Upstream("offline", OFFLINE_MODEL)
    if name == "openai":
        return Upstream(
            "openai",
            model or platform_default_model(),
            api_key=settings.SMARTER.platform_openai_key,
            base_url=settings.SMARTER.openai_base_url,
        )
    provider = provider_of_turn(account=account, name=name, chatbot=chatbot)
    if provider is None:
        return None
    return Upstream(
        provider.name,
        model or provider.default_model,
        api_key=account_services.secret_reveal(secret=provider.api_key) if provider.api_key else None,
        base_url=provider.base_url,
        timeout=float(provider.timeout),
        guarded=True,
    )
