"""`reencrypt_secrets`: after putting a new key first in SMARTER_FERNET_KEYS, re-encrypt every
secret under it; then the old key can be removed from the list."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from smarter.apps.account import services


class Command(BaseCommand):
    help = "Re-encrypt every secret under the newest key of SMARTER_FERNET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = services.secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {count} secrets under the newest key.")
