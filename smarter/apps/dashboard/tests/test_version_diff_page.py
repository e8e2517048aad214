"""Comparing two versions of a chatbot shows its deployment too: the deployed flag, custom domain,
allowed origins and required key of both versions and of the chatbot now."""

from __future__ import annotations

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.dashboard.tests.helpers import CATALOGUE, apply, chatbot, signed_in

pytestmark = pytest.mark.django_db

SITE = "https://www.acme.test"


@pytest.fixture
def shop_versions(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop"))  # version 1
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Outlet", allowedOrigins=[SITE]))  # 2
    assert signed_in(owner).post("/dashboard/chatbots/shop/deploy/").status_code == 302  # no version


def test_the_deployment_fields_of_both_versions_and_of_now_are_shown(owner: Persona, shop_versions: None) -> None:
    response = signed_in(owner).get("/dashboard/chatbots/shop/versions/1/diff/2/")
    assert response.status_code == 200
    assert [(c["path"], c["before"], c["after"]) for c in response.context["changes"]] == [
        ("spec.config.appName", "Gizmo Shop", "Gizmo Outlet")
    ]
    rows = [(r["field"], r["before"], r["after"], r["current"], r["changed"]) for r in response.context["deployment"]]
    assert rows == [
        ("deployed", False, False, True, False),
        ("customDomain", None, None, None, False),
        ("subdomain", None, None, None, False),
        ("allowedOrigins", [], [SITE], [SITE], True),
        ("apiKey", None, None, None, False),
    ]
    page = response.content.decode()
    assert '<td class="small">no</td><td class="small">no</td><td class="small">yes</td>' in page
    assert f'<td class="small">—</td><td class="small">{SITE}</td><td class="small">{SITE}</td>' in page


def test_a_teammate_reads_the_comparison_and_an_outsider_finds_nothing(
    owner: Persona, teammate: Persona, outsider: Persona, shop_versions: None
) -> None:
    assert signed_in(teammate).get("/dashboard/chatbots/shop/versions/1/diff/2/").status_code == 200
    assert signed_in(outsider).get("/dashboard/chatbots/shop/versions/1/diff/2/").status_code == 404
