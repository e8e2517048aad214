"""Reads of the chatbot app; every one takes the account and scopes by it."""

from __future__ import annotations

from django.db.models import QuerySet

from smarter.apps.account.models import Account
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, Provider
from smarter.apps.plugin.models import Plugin


def chatbots_of(account: Account) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(account=account).select_related("account", "api_key")


def chatbot_get(*, account: Account, name: str) -> Chatbot | None:
    return chatbots_of(account).filter(name=name).first()


def domain_of(chatbot: Chatbot) -> ChatbotDomain | None:
    """The chatbot's custom domain claim (at most one)."""
    return ChatbotDomain.objects.filter(chatbot=chatbot).select_related("chatbot").first()


def attached_plugins(chatbot: Chatbot) -> list[Plugin]:
    """The chatbot's plugins in their manifest order."""
    return [attachment.plugin for attachment in chatbot.attachments.select_related("plugin", "plugin__account")]


def providers_of(account: Account) -> QuerySet[Provider]:
    return Provider.objects.filter(account=account).select_related("api_key")


def provider_get(*, account: Account, name: str) -> Provider | None:
    return providers_of(account).filter(name=name).first()
