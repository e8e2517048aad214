"""Manifest kinds of the account app: Account, User, ApiKey (alias SmarterAuthToken), Secret."""

from smarter.apps.account.manifests.account import AccountBroker
from smarter.apps.account.manifests.api_key import ApiKeyBroker
from smarter.apps.account.manifests.secret import SecretBroker
from smarter.apps.account.manifests.user import UserBroker
from smarter.lib.manifests import register


def register_kinds() -> None:
    for broker in (AccountBroker(), UserBroker(), ApiKeyBroker(), SecretBroker()):
        register(broker)
