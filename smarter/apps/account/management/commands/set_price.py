"""`set_price`: create or replace a model's price, as one JSON line (the admin's price table
does the same in a browser). A model needs a price to run on the platform's own key."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smarter.apps.account.billing.prices import price_set
from smarter.lib.errors import SmarterError


class Command(BaseCommand):
    help = "Set what a model costs in US dollars (0 0 marks it free); prints one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="the model's name, e.g. smollm2")
        parser.add_argument("--prompt", required=True, help="USD per million prompt tokens")
        parser.add_argument("--completion", required=True, help="USD per million completion tokens")
        parser.add_argument("--per-call", default="0", help="USD per call (tool prices); default 0")
        parser.add_argument("--provider", default="*", help="only when this provider serves it; default * (any)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            price = price_set(
                model=options["model"],
                prompt_per_million=options["prompt"],
                completion_per_million=options["completion"],
                per_call=options["per_call"],
                provider=options["provider"],
            )
        except SmarterError as error:
            details = "; ".join(f"{item.loc}: {item.msg}" for item in error.errors)
            raise CommandError(f"{error.description} {details}".strip()) from None
        self.stdout.write(
            json.dumps(
                {
                    "provider": price.provider,
                    "model": price.model,
                    "promptPerMillion": str(price.prompt_per_million),
                    "completionPerMillion": str(price.completion_per_million),
                    "perCall": str(price.per_call),
                }
            )
        )
