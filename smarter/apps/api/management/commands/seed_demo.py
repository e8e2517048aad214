"""`seed_demo`: the demo account `make run` starts with, and what to do next, printed.

Idempotent: the first run creates the account, its admin (a platform operator, so the admin
site works) and an API key, and keeps the password and key in the state directory so later
runs print the same ones.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from smarter.apps.account import selectors, services
from smarter.apps.api.demo import DEMO_CHATBOT, DEMO_SUITE, MANUAL_DOCUMENT, MANUAL_QUESTION, seed_demo_resources

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo account (once) and print its console URL, password, API key and examples."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=None, help="Where the platform is served")

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = self._credentials()
        caller = selectors.caller_for_api_key(credentials["apiKey"])
        assert caller is not None, "the demo key was just checked"
        seed_demo_resources(caller)
        base_url = options["base_url"] or f"http://{settings.SMARTER.platform_host}"
        self.stdout.write(self._banner(base_url, credentials))

    def _credentials(self) -> dict[str, str]:
        path = Path(settings.SMARTER.state_dir) / "demo-credentials.json"
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is not None and path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            if selectors.caller_for_api_key(stored["apiKey"]) is not None:
                return stored
        password = secrets.token_urlsafe(12)
        if user is None:
            onboarded = services.account_onboard(
                company_name="Smarter Demo",
                username=DEMO_USERNAME,
                email="admin@demo.localhost",
                password=password,
                platform_admin=True,
                key_name=f"demo_{secrets.token_hex(3)}",
            )
            account_number, plaintext = onboarded.account.account_number, onboarded.api_key.plaintext
        else:
            # The state directory was wiped but the database was not: issue a fresh password and key.
            services.user_set_password(user=user, password=password)
            caller = selectors.caller_for_user(user)
            assert caller is not None, "the demo admin belongs to the demo account"
            issued = services.api_key_create(account=caller.account, user=user, name=f"demo_{secrets.token_hex(3)}")
            account_number, plaintext = caller.account.account_number, issued.plaintext
        stored = {
            "username": DEMO_USERNAME,
            "password": password,
            "accountNumber": account_number,
            "apiKey": plaintext,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored), encoding="utf-8")
        path.chmod(0o600)
        return stored

    def _banner(self, base_url: str, credentials: dict[str, str]) -> str:
        key = credentials["apiKey"]
        # Served by the same server as the platform: the chatbot host on the platform's port.
        port = urlsplit(base_url).port
        host = f"{DEMO_CHATBOT}.{credentials['accountNumber']}.api.{settings.SMARTER.root_domain}"
        chatbot_url = f"http://{host}{f':{port}' if port else ''}/"
        manifest = (
            r"$'apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: demo_token}\n"
            r"spec: {config: {value: s3cr3t}}'"
        )
        return f"""
  Smarter is ready on {base_url}  (demo chatbot: {DEMO_CHATBOT})

  Console           {base_url}/dashboard/   (admin site: {base_url}/admin/)
    username        {credentials["username"]}
    password        {credentials["password"]}
  Demo chatbot      {chatbot_url}
  Account number    {credentials["accountNumber"]}
  API key           {key}
  API docs          {base_url}/api/docs/

  Try it (the first answer comes from the product manual, {MANUAL_DOCUMENT}, and cites it):
    curl -s {base_url}/api/v1/chatbots/{DEMO_CHATBOT}/chat/ -H 'Authorization: Token {key}' \\
         -H 'Content-Type: application/json' -d '{{"prompt": "{MANUAL_QUESTION}"}}'
    curl -s {base_url}/api/v1/cli/whoami/ -H 'Authorization: Token {key}'
    curl -s {base_url}/api/v1/chatbots/{DEMO_CHATBOT}/chat/ -H 'Authorization: Token {key}' \\
         -H 'Content-Type: application/json' -d '{{"prompt": "What is the price of the Everlasting Gobstopper?"}}'
    curl -s {base_url}/api/v1/cli/apply/ -H 'Authorization: Token {key}' \\
         -H 'Content-Type: application/yaml' --data-binary {manifest}

  Evaluate the demo chatbot with its test suite, {DEMO_SUITE} (the client: pip install ./cli):
    smarter eval {DEMO_SUITE} --wait --base-url {base_url} --api-key {key}
"""
