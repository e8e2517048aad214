"""Where a chatbot answers: its default host name and URLs, derived from configuration."""

from __future__ import annotations

from django.conf import settings

from smarter.apps.chatbot.models import Chatbot


def host_label(chatbot: Chatbot) -> str:
    """The DNS label of a chatbot: its subdomain, else its name with `_` as `-` (valid in DNS)."""
    return (chatbot.subdomain or chatbot.name).replace("_", "-").lower()


def default_host(chatbot: Chatbot) -> str:
    return f"{host_label(chatbot)}.{chatbot.account.account_number}.api.{settings.SMARTER.root_domain}"


def served_hosts(chatbot: Chatbot) -> list[str]:
    """Every host name that may route to this chatbot: its default host and its custom domain."""
    return [default_host(chatbot), *([chatbot.custom_domain] if chatbot.custom_domain else [])]


def host_origins(chatbot: Chatbot) -> list[str]:
    """The origins of the chatbot's own pages (as a browser writes them in `Origin`)."""
    origins = [f"{_scheme()}://{default_host(chatbot)}{_port_suffix()}"]
    if chatbot.custom_domain:
        origins.append(f"{_scheme()}://{chatbot.custom_domain}")
    return origins


def _scheme() -> str:
    return "https" if settings.SMARTER.https else "http"


def _port_suffix() -> str:
    """Chatbot hosts are served by the same server as the platform host, on its port."""
    _, _, port = settings.SMARTER.platform_host.partition(":")
    return f":{port}" if port else ""


def default_url(chatbot: Chatbot) -> str:
    return f"{_scheme()}://{default_host(chatbot)}{_port_suffix()}/"


def custom_url(chatbot: Chatbot) -> str | None:
    return f"{_scheme()}://{chatbot.custom_domain}/" if chatbot.custom_domain else None


def sandbox_url(chatbot: Chatbot) -> str:
    return f"{_scheme()}://{settings.SMARTER.platform_host}/dashboard/chatbots/{chatbot.name}/sandbox/"
