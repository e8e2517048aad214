"""Every write of the chatbot app: one keyword-only function per use case."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction

from smarter.apps.account.models import Account
from smarter.apps.chatbot.models import Chatbot, ChatbotPlugin, Provider
from smarter.apps.chatbot.selectors import attached_plugins
from smarter.apps.plugin.models import Plugin
from smarter.lib.errors import Conflict


def _set_fields(instance: models.Model, fields: dict[str, Any]) -> list[str]:
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, fields[name])
    return changed


def _set_plugins(chatbot: Chatbot, plugins: list[Plugin]) -> bool:
    if [plugin.pk for plugin in attached_plugins(chatbot)] == [plugin.pk for plugin in plugins]:
        return False
    ChatbotPlugin.objects.filter(chatbot=chatbot).delete()
    ChatbotPlugin.objects.bulk_create(
        ChatbotPlugin(chatbot=chatbot, plugin=plugin, position=index) for index, plugin in enumerate(plugins)
    )
    return True


@transaction.atomic
def chatbot_create(*, account: Account, name: str, plugins: list[Plugin], **fields: Any) -> Chatbot:
    try:
        with transaction.atomic():
            chatbot = Chatbot.objects.create(account=account, name=name, **fields)
    except IntegrityError:
        raise Conflict(f"A chatbot named {name!r} already exists.", context={"kind": "Chatbot", "name": name}) from None
    _set_plugins(chatbot, plugins)
    return chatbot


@transaction.atomic
def chatbot_update(*, chatbot: Chatbot, plugins: list[Plugin], **fields: Any) -> bool:
    """Set what differs; returns whether anything changed (nothing is written if not)."""
    changed = _set_fields(chatbot, fields)
    if changed:
        chatbot.save(update_fields=[*changed, "updated_at"])
    plugins_changed = _set_plugins(chatbot, plugins)
    return bool(changed) or plugins_changed


def chatbot_delete(*, chatbot: Chatbot) -> None:
    chatbot.delete()


@transaction.atomic
def provider_create(*, account: Account, name: str, **fields: Any) -> Provider:
    return Provider.objects.create(account=account, name=name, **fields)


@transaction.atomic
def provider_update(*, provider: Provider, **fields: Any) -> bool:
    changed = _set_fields(provider, fields)
    if changed:
        provider.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def provider_delete(*, provider: Provider) -> None:
    """Refused with 409 while a chatbot names the provider."""
    users = list(
        Chatbot.objects.filter(account=provider.account, provider=provider.name).values_list("name", flat=True)
    )
    if users:
        names = [f"Chatbot {name}" for name in users]
        raise Conflict(
            f"Provider {provider.name!r} is in use by {', '.join(names)}; change or delete those first.",
            context={"kind": "Provider", "name": provider.name, "usedBy": names},
        )
    provider.delete()
