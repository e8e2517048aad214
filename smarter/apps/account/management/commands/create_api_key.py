"""`create_api_key`: a new key for an existing user, as one JSON line."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smarter.apps.account import selectors, services
from smarter.lib.errors import SmarterError


class Command(BaseCommand):
    help = "Create an API key for a user; prints one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", default=None, help="snake_case key name; default key_<random>")
        parser.add_argument("--account", default=None, help="Account number, when the user is in several")

    def handle(self, *args: Any, **options: Any) -> None:
        user = selectors.user_by_username(options["username"])
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        account = None
        if options["account"]:
            account = selectors.account_by_number(options["account"])
            if account is None:
                raise CommandError(f"No account {options['account']!r}.")
        caller = selectors.caller_for_user(user, account.pk if account else None)
        if caller is None:
            raise CommandError(f"{options['username']!r} is not a member of that account.")
        name = options["name"] or f"key_{secrets.token_hex(3)}"
        try:
            issued = services.api_key_create(account=caller.account, user=user, name=name)
        except SmarterError as error:
            raise CommandError(error.description) from None
        self.stdout.write(
            json.dumps(
                {
                    "accountNumber": caller.account.account_number,
                    "username": user.get_username(),
                    "apiKey": issued.plaintext,
                }
            )
        )
