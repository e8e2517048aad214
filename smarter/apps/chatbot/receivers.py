"""How the chatbot app follows a change to an account, made by the account app below it (which
cannot call up): a deactivated or deleted account's chatbots stop answering at once."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_delete

from smarter.apps.account.models import Account


def _account_saved(sender: type[Account], instance: Account, created: bool, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    from smarter.apps.chatbot.services import account_chatbots_reroute

    account_chatbots_reroute(account=instance)


def _account_deleting(sender: type[Account], instance: Account, **kwargs: Any) -> None:
    from smarter.apps.chatbot.services import account_chatbots_reroute

    account_chatbots_reroute(account=instance, deleting=True)


def connect() -> None:
    post_save.connect(_account_saved, sender=Account, dispatch_uid="chatbot-account-saved")
    pre_delete.connect(_account_deleting, sender=Account, dispatch_uid="chatbot-account-deleting")
