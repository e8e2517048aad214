"""Celery entry points of the chatbot app; each calls a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError

from smarter.apps.chatbot import automation, services
from smarter.apps.chatbot.models import ChatbotDomain, DomainStatus

# How often a pending custom domain is looked up: after 1, 2, 4 ... minutes, about 17 hours in all;
# `describe` checks again on demand afterwards.
DOMAIN_CHECKS = 11
DOMAIN_FIRST_WAIT_SECONDS = 60


def _automation_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return (ApiException, BotoCoreError, ClientError, HTTPError, OSError, DatabaseError)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=_automation_errors(),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def sync_chatbot_deployment_task(chatbot_id: int, stale_hosts: list[str]) -> dict[str, Any]:
    """Create, update or remove the chatbot's Ingress and DNS record (idempotent)."""
    return automation.chatbot_deployment_sync(chatbot_id=chatbot_id, stale_hosts=stale_hosts)


@shared_task(bind=True, acks_late=True, max_retries=DOMAIN_CHECKS)
def verify_custom_domain_task(self: Any, domain_id: int) -> str:
    """Look for the domain's TXT record; not there yet, look again later with a growing wait."""
    claim = ChatbotDomain.objects.select_related("chatbot", "chatbot__account").filter(pk=domain_id).first()
    if claim is None:
        return "deleted"
    status = services.domain_verify(claim=claim)
    if status == DomainStatus.VERIFIED:
        return status
    # Run in-process (no broker), a retry would run at once: describe checks again instead.
    if self.request.is_eager:
        return status
    if self.request.retries >= DOMAIN_CHECKS:
        services.domain_fail(claim=claim)
        return DomainStatus.FAILED
    raise self.retry(countdown=DOMAIN_FIRST_WAIT_SECONDS * 2**self.request.retries)


@shared_task(acks_late=True)
def expire_custom_domain_claims_task() -> int:
    """Release custom-domain claims still unverified after SMARTER_CUSTOM_DOMAIN_CLAIM_DAYS (hourly)."""
    return services.domain_claims_expire()
