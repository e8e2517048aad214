"""Custom domains: claimed once across all accounts, verified by a DNS TXT record looked up with
dnspython against a real DNS server on loopback, routed only once verified."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.chatbot import services
from smarter.apps.chatbot.domain_check import challenge_found
from smarter.apps.chatbot.models import ChatbotDomain, DomainStatus
from smarter.apps.chatbot.tasks import verify_custom_domain_task
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import DnsServer, free_port

pytestmark = pytest.mark.django_db


def describe(persona: Persona, name: str = "support") -> dict[str, Any]:
    response = persona.client.get(f"/api/v1/cli/describe/Chatbot/?name={name}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_a_custom_domain_starts_pending_and_describe_verifies_it_once_the_txt_record_exists(
    owner: Persona, dns_server: DnsServer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        data = apply(owner, chatbot_manifest("support", deployed=True, customDomain="Chat.Acme.Test."))
    claim = ChatbotDomain.objects.get()
    assert (claim.domain, claim.status, claim.chatbot.name) == ("chat.acme.test", DomainStatus.PENDING, "support")
    assert (
        len(claim.token) == 32 and claim.last_checked_at is not None
    )  # the task looked once, in-process, once committed
    status = data["manifest"]["status"]
    assert status["customUrl"] == "http://chat.acme.test/"
    assert status["dnsVerificationStatus"] == "Pending"
    assert status["dnsVerificationRecord"] == {
        "name": "_smarter-challenge.chat.acme.test",
        "type": "TXT",
        "value": claim.token,
    }
    assert describe(owner)["status"]["dnsVerificationStatus"] == "Pending"
    dns_server.txt["_smarter-challenge.chat.acme.test"] = ["some-other-value", claim.token]
    assert describe(owner)["status"]["dnsVerificationStatus"] == "Verified"
    claim.refresh_from_db()
    assert claim.status == DomainStatus.VERIFIED and claim.verified_at is not None
    assert dns_server.queries.count("_smarter-challenge.chat.acme.test") >= 3
    # Verified stays verified: describe no longer asks the DNS.
    asked = len(dns_server.queries)
    dns_server.txt.clear()
    assert describe(owner)["status"]["dnsVerificationStatus"] == "Verified"
    assert len(dns_server.queries) == asked


def test_a_wrong_token_or_no_record_is_not_a_verification(dns_server: DnsServer) -> None:
    dns_server.txt["_smarter-challenge.a.test"] = ["wrong"]
    assert challenge_found("_smarter-challenge.a.test", "right") is False
    assert challenge_found("_smarter-challenge.b.test", "right") is False
    dns_server.txt["_smarter-challenge.a.test"] = ["right"]
    assert challenge_found("_smarter-challenge.a.test", "right") is True


def test_no_dns_server_answering_is_not_a_verification(smarter_settings: Any) -> None:
    smarter_settings.dns_resolver = f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    assert challenge_found("_smarter-challenge.a.test", "x", timeout=0.5) is False


def test_a_verified_domain_belongs_to_one_chatbot_of_all_accounts(
    owner: Persona, outsider: Persona, dns_server: DnsServer
) -> None:
    apply(owner, chatbot_manifest("support", customDomain="chat.acme.test"))
    apply(outsider, chatbot_manifest("globexbot"))
    claim = ChatbotDomain.objects.get()
    dns_server.txt["_smarter-challenge.chat.acme.test"] = [claim.token]
    assert describe(owner)["status"]["dnsVerificationStatus"] == "Verified"
    before = database_snapshot()
    for persona, name, spelt in (
        (outsider, "globexbot", "chat.acme.test"),
        (outsider, "globexbot", "CHAT.Acme.test."),
        (outsider, "another", "chat.acme.test"),
        (owner, "second", "chat.acme.test"),
    ):
        response = persona.client.post(APPLY, data=chatbot_manifest(name, customDomain=spelt), format="json")
        assert response.status_code == 409, response.content
        assert response.json()["description"] == (
            "The domain 'chat.acme.test' belongs to another chatbot, which has verified it."
        )
        assert response.json()["context"]["customDomain"] == "chat.acme.test"
    assert database_snapshot() == before


def test_changing_or_removing_the_domain_replaces_the_claim(owner: Persona, dns_server: Any) -> None:
    apply(owner, chatbot_manifest("support", customDomain="chat.acme.test"))
    first = ChatbotDomain.objects.get()
    apply(owner, chatbot_manifest("support", customDomain="help.acme.test"))
    second = ChatbotDomain.objects.get()
    assert (second.domain, second.status) == ("help.acme.test", DomainStatus.PENDING)
    assert second.token != first.token
    apply(owner, chatbot_manifest("support"))
    assert ChatbotDomain.objects.count() == 0


def test_only_an_admin_sets_a_custom_domain(owner: Persona, teammate: Persona) -> None:
    apply(owner, chatbot_manifest("support"))
    before = database_snapshot()
    response = teammate.client.post(
        APPLY, data=chatbot_manifest("support", customDomain="chat.acme.test"), format="json"
    )
    assert response.status_code == 403
    assert database_snapshot() == before


def test_the_verification_task_retries_with_a_growing_wait_then_gives_up(
    owner: Persona, dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(owner, chatbot_manifest("support", customDomain="chat.acme.test"))
    claim = ChatbotDomain.objects.get()
    waits: list[int] = []

    class Retry(Exception):
        pass

    def retry(countdown: int) -> Exception:
        waits.append(countdown)
        return Retry()

    monkeypatch.setattr(verify_custom_domain_task, "retry", retry)
    for attempt in range(3):
        request = {"retries": attempt, "is_eager": False}
        with pytest.raises(Retry):
            _run(claim.pk, request)
    assert waits == [60, 120, 240]
    assert _run(claim.pk, {"retries": 11, "is_eager": False}) == DomainStatus.FAILED
    claim.refresh_from_db()
    assert claim.status == DomainStatus.FAILED
    # A failed claim is checked again by describe, and verifies once the record appears.
    dns_server.txt["_smarter-challenge.chat.acme.test"] = [claim.token]
    assert describe(owner)["status"]["dnsVerificationStatus"] == "Verified"
    assert _run(claim.pk, {"retries": 0, "is_eager": False}) == DomainStatus.VERIFIED


def _run(domain_id: int, request: dict[str, Any]) -> Any:
    """Run the task's body with a given retry count, as a worker would on that attempt."""
    verify_custom_domain_task.push_request(**request)
    try:
        return verify_custom_domain_task.run(domain_id)
    finally:
        verify_custom_domain_task.pop_request()


def test_a_verified_domain_is_routed_and_an_unverified_one_is_not(
    owner: Persona, dns_server: DnsServer, asgi_server: Any, smarter_settings: Any
) -> None:
    smarter_settings.root_domain = "example.com"
    apply(owner, chatbot_manifest("support", deployed=True, appName="Acme Support", customDomain="chat.acme.test"))

    def status() -> int:
        return httpx.get(asgi_server.url, headers={"Host": "chat.acme.test"}).status_code

    assert status() == 404
    claim = ChatbotDomain.objects.get()
    dns_server.txt["_smarter-challenge.chat.acme.test"] = [claim.token]
    assert services.domain_verify(claim=claim) == DomainStatus.VERIFIED
    assert status() == 200  # the cached "unverified" answer was forgotten at once
