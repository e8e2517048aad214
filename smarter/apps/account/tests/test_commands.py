"""`create_account` and `create_api_key` print exactly one JSON line, as API.md says."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from smarter.apps.account.models import Account, Membership, Role

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def whoami(key: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/cli/whoami/").json()["data"]


def test_create_account_prints_the_account_user_and_a_working_key() -> None:
    line = run("create_account", "--company", "Acme", "--username", "alice", "--email", "alice@acme.test")
    assert set(line) == {"accountNumber", "username", "apiKey"}
    assert line["username"] == "alice"
    account = Account.objects.get(account_number=line["accountNumber"])
    assert account.company_name == "Acme" and account.name == "acme"
    assert Membership.objects.get(account=account, user__username="alice").role == Role.ADMIN
    assert whoami(line["apiKey"]) == {
        "username": "alice",
        "accountNumber": line["accountNumber"],
        "role": "admin",
    }


def test_create_account_admin_flag_makes_a_platform_operator_with_a_password() -> None:
    line = run(
        "create_account",
        "--company",
        "Ops",
        "--username",
        "root_op",
        "--email",
        "op@x.test",
        "--password",
        "a-long-password-1",
        "--admin",
    )
    from django.contrib.auth import authenticate

    user = authenticate(username="root_op", password="a-long-password-1")
    assert user is not None and user.is_superuser and user.is_staff
    assert whoami(line["apiKey"])["platformAdmin"] is True


def test_create_account_refuses_a_taken_username() -> None:
    run("create_account", "--company", "Acme", "--username", "alice", "--email", "a@acme.test")
    with pytest.raises(CommandError, match="The username 'alice' is not available"):
        run("create_account", "--company", "Other", "--username", "alice", "--email", "a@other.test")
    assert Account.objects.count() == 1


def test_create_api_key_prints_a_new_working_key() -> None:
    first = run("create_account", "--company", "Acme", "--username", "alice", "--email", "a@acme.test")
    line = run("create_api_key", "--username", "alice", "--name", "ci")
    assert line["accountNumber"] == first["accountNumber"]
    assert line["apiKey"] != first["apiKey"]
    assert whoami(line["apiKey"])["username"] == "alice"


def test_create_api_key_for_an_unknown_user_fails_clearly() -> None:
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run("create_api_key", "--username", "ghost")
