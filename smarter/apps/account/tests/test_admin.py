"""The admin site writes through the services: changing an account's profile and state."""

from __future__ import annotations

import pytest
from django.test import Client

from smarter.apps.account.models import Account
from smarter.apps.account.tests.factories import Persona

pytestmark = pytest.mark.django_db


def test_the_operator_changes_an_accounts_profile_and_deactivates_it_in_the_admin(owner: Persona) -> None:
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    client = Client()
    client.force_login(owner.user)
    account = owner.account
    form = {
        "name": "acme_corp",
        "company_name": "Acme Corporation",
        "language": "en-US",
        "timezone": "UTC",
        "currency": "EUR",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    response = client.post(f"/admin/account/account/{account.pk}/change/", form)
    assert response.status_code == 302, response.content[:500]
    account.refresh_from_db()
    assert (account.name, account.company_name, account.currency, account.is_active) == (
        "acme_corp",
        "Acme Corporation",
        "EUR",
        False,  # the unchecked box
    )
    assert Account.objects.count() == 1
