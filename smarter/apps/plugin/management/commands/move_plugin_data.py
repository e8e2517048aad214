"""`move_plugin_data`: after upgrading to a plugin data folder per account, move each SQLite
connection's file from the shared folder into the folder of the account that uses it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from smarter.apps.plugin.sqlite_files import legacy_files_move


class Command(BaseCommand):
    help = "Move SQLite plugin databases from the shared plugin data folder into each account's own folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would be moved, move nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        for item in legacy_files_move(dry_run=options["dry_run"]):
            self.stdout.write(f"{item.account_number} {item.connection} {item.database}: {item.outcome}")
