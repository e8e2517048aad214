"""`create_account`: a new account, its first user (an account admin) and an API key, as one JSON line."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smarter.apps.account import services
from smarter.lib.errors import SmarterError


class Command(BaseCommand):
    help = "Create an account with its first user and API key; prints one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="Company name, e.g. 'Acme'")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", default=None, help="Console password; unset: no console login")
        parser.add_argument("--admin", action="store_true", help="Also make the user a platform operator (superuser)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            onboarded = services.account_onboard(
                company_name=options["company"],
                username=options["username"],
                email=options["email"],
                password=options["password"],
                platform_admin=options["admin"],
            )
        except SmarterError as error:
            raise CommandError(error.description) from None
        self.stdout.write(
            json.dumps(
                {
                    "accountNumber": onboarded.account.account_number,
                    "username": onboarded.user.get_username(),
                    "apiKey": onboarded.api_key.plaintext,
                }
            )
        )
