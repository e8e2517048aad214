"""Who owns a custom domain: claiming proves nothing, so claims of one domain wait side by side and
the first to verify (a DNS TXT record, looked up against a real DNS server on loopback) owns it;
the others are released. A claim never verified is released after SMARTER_CUSTOM_DOMAIN_CLAIM_DAYS
by the periodic sweep, so no one holds a domain by naming it first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chatbot import services
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, DomainStatus
from smarter.apps.chatbot.tasks import expire_custom_domain_claims_task
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import DnsServer
from smarter.celery import app as celery_app

pytestmark = pytest.mark.django_db

DOMAIN = "chat.acme.test"
RECORD = f"_smarter-challenge.{DOMAIN}"


def describe(persona: Persona, name: str) -> dict[str, Any]:
    response = persona.client.get(f"/api/v1/cli/describe/Chatbot/?name={name}")
    assert response.status_code == 200, response.content
    return dict(response.json()["data"])


def claim_of(persona: Persona, name: str) -> ChatbotDomain:
    return ChatbotDomain.objects.get(chatbot__account=persona.account, chatbot__name=name)


@pytest.fixture
def squatter(db: Any) -> Persona:
    return make_persona(make_account("Squat Inc"), "squatter", Role.ADMIN)


def test_a_pending_claim_blocks_no_one_and_verification_decides(
    owner: Persona, squatter: Persona, dns_server: DnsServer
) -> None:
    # The squatter names the domain first; the owner can still claim it.
    apply(squatter, chatbot_manifest("grab", customDomain=DOMAIN))
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    apply(owner, chatbot_manifest("second", customDomain=DOMAIN))
    claims = ChatbotDomain.objects.filter(domain=DOMAIN)
    assert claims.count() == 3
    assert len({claim.token for claim in claims}) == 3
    assert {claim.status for claim in claims} == {DomainStatus.PENDING}

    # Only the one who controls the DNS can publish a token: the owner's.
    dns_server.txt[RECORD] = [claim_of(owner, "support").token]
    assert describe(squatter, "grab")["status"]["dnsVerificationStatus"] == "Pending"
    assert describe(owner, "support")["status"]["dnsVerificationStatus"] == "Verified"

    verified = ChatbotDomain.objects.get(domain=DOMAIN)
    assert (verified.chatbot.name, verified.status, verified.verified_domain) == ("support", "verified", DOMAIN)
    for persona, name in ((squatter, "grab"), (owner, "second")):
        released = describe(persona, name)
        assert released["spec"]["config"]["customDomain"] is None
        assert released["status"]["dnsVerificationStatus"] == "Not applicable"
        assert Chatbot.objects.get(account=persona.account, name=name).custom_domain == ""
    # Claiming it again is now a conflict.
    again = squatter.client.post(
        "/api/v1/cli/apply/", data=chatbot_manifest("grab", customDomain=DOMAIN), format="json"
    )
    assert again.status_code == 409


def test_whichever_claim_verifies_first_owns_the_domain(
    owner: Persona, squatter: Persona, dns_server: DnsServer
) -> None:
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    apply(squatter, chatbot_manifest("grab", customDomain=DOMAIN))
    ours, theirs = claim_of(owner, "support"), claim_of(squatter, "grab")
    dns_server.txt[RECORD] = [theirs.token, ours.token]  # whoever controls the DNS published both

    assert services.domain_verify(claim=theirs) == DomainStatus.VERIFIED
    assert services.domain_verify(claim=ours) == "released"  # a stale object of a released claim

    assert list(ChatbotDomain.objects.values_list("chatbot__name", "verified_domain")) == [("grab", DOMAIN)]


def test_two_claims_verifying_at_once_leave_exactly_one_owner(
    owner: Persona, squatter: Persona, dns_server: DnsServer
) -> None:
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    apply(squatter, chatbot_manifest("grab", customDomain=DOMAIN))
    ours, theirs = claim_of(owner, "support"), claim_of(squatter, "grab")
    dns_server.txt[RECORD] = [theirs.token, ours.token]
    # Another process verified the squatter's claim and has not yet released the others.
    ChatbotDomain.objects.filter(pk=theirs.pk).update(status=DomainStatus.VERIFIED, verified_domain=DOMAIN)

    assert services.domain_verify(claim=ours) == "released"  # the database refused a second owner

    assert list(ChatbotDomain.objects.values_list("chatbot__name", "verified_domain")) == [("grab", DOMAIN)]
    assert Chatbot.objects.get(name="support").custom_domain == ""


def test_only_the_verified_claim_is_routed(
    owner: Persona, squatter: Persona, dns_server: DnsServer, asgi_server: Any, smarter_settings: Any
) -> None:
    smarter_settings.root_domain = "example.com"
    apply(squatter, chatbot_manifest("grab", deployed=True, appName="Squatted", customDomain=DOMAIN))
    apply(owner, chatbot_manifest("support", deployed=True, appName="Acme Support", customDomain=DOMAIN))

    def page() -> httpx.Response:
        return httpx.get(asgi_server.url, headers={"Host": DOMAIN})

    assert page().status_code == 404
    dns_server.txt[RECORD] = [claim_of(owner, "support").token]
    assert services.domain_verify(claim=claim_of(owner, "support")) == DomainStatus.VERIFIED
    answer = page()
    assert answer.status_code == 200
    assert "Acme Support" in answer.text and "Squatted" not in answer.text


def test_describe_tells_when_an_unverified_claim_is_released(owner: Persona, dns_server: DnsServer) -> None:
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    claim = claim_of(owner, "support")
    status = describe(owner, "support")["status"]
    assert status["dnsVerificationDeadline"] == (claim.created_at + timedelta(days=7)).isoformat()
    dns_server.txt[RECORD] = [claim.token]
    assert describe(owner, "support")["status"]["dnsVerificationDeadline"] is None


def _age(claim: ChatbotDomain, days: float) -> None:
    ChatbotDomain.objects.filter(pk=claim.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_the_sweep_releases_claims_never_verified_in_time(
    owner: Persona, squatter: Persona, dns_server: DnsServer, smarter_settings: Any
) -> None:
    smarter_settings.custom_domain_claim_days = 7
    apply(squatter, chatbot_manifest("grab", customDomain=DOMAIN))
    apply(squatter, chatbot_manifest("failed", customDomain="shop.acme.test"))
    apply(owner, chatbot_manifest("fresh", customDomain="fresh.acme.test"))
    apply(owner, chatbot_manifest("late", customDomain="late.acme.test"))
    apply(owner, chatbot_manifest("done", customDomain="done.acme.test"))
    _age(claim_of(squatter, "grab"), 7.01)
    failed = claim_of(squatter, "failed")
    services.domain_fail(claim=failed)  # the background checks gave up long ago
    _age(failed, 30)
    _age(claim_of(owner, "fresh"), 6.9)
    late = claim_of(owner, "late")
    _age(late, 8)
    dns_server.txt["_smarter-challenge.late.acme.test"] = [late.token]  # published, never described
    done = claim_of(owner, "done")
    dns_server.txt["_smarter-challenge.done.acme.test"] = [done.token]
    services.domain_verify(claim=done)
    _age(done, 400)

    assert expire_custom_domain_claims_task.run() == 2

    assert sorted(ChatbotDomain.objects.values_list("domain", "status")) == [
        ("done.acme.test", "verified"),
        ("fresh.acme.test", "pending"),
        ("late.acme.test", "verified"),  # found at the last look before release
    ]
    assert dict(Chatbot.objects.values_list("name", "custom_domain")) == {
        "grab": "",
        "failed": "",
        "fresh": "fresh.acme.test",
        "late": "late.acme.test",
        "done": "done.acme.test",
    }
    # Released, the domain may be claimed anew (with a new token) by anyone.
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    assert claim_of(owner, "support").status == DomainStatus.PENDING
    assert expire_custom_domain_claims_task.run() == 0


def test_the_claim_period_is_a_setting(owner: Persona, dns_server: DnsServer, smarter_settings: Any) -> None:
    smarter_settings.custom_domain_claim_days = 2
    apply(owner, chatbot_manifest("support", customDomain=DOMAIN))
    _age(claim_of(owner, "support"), 1.9)
    assert services.domain_claims_expire() == 0
    _age(claim_of(owner, "support"), 2.1)
    assert services.domain_claims_expire() == 1
    assert not ChatbotDomain.objects.exists()


def test_the_sweep_runs_every_hour_from_the_beat_schedule() -> None:
    entry = celery_app.conf.beat_schedule["expire-custom-domain-claims"]
    assert entry["task"] == expire_custom_domain_claims_task.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].minute == {35}
