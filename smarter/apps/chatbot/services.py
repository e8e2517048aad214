"""Every write of the chatbot app: one keyword-only function per use case."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from smarter.apps.account.models import Account
from smarter.apps.chatbot import hosts
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain, ChatbotPlugin, DomainStatus, Provider
from smarter.apps.chatbot.routing import forget_hosts
from smarter.apps.chatbot.selectors import attached_plugins
from smarter.apps.plugin.models import Plugin
from smarter.lib.errors import Conflict

logger = logging.getLogger(__name__)

# What routing, the Ingress and the DNS records of a chatbot depend on.
_ROUTING_FIELDS = ("name", "subdomain", "custom_domain", "deployed")


def _set_fields(instance: models.Model, fields: dict[str, Any]) -> list[str]:
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, fields[name])
    return changed


def _set_plugins(chatbot: Chatbot, plugins: list[Plugin]) -> bool:
    if [plugin.pk for plugin in attached_plugins(chatbot)] == [plugin.pk for plugin in plugins]:
        return False
    ChatbotPlugin.objects.filter(chatbot=chatbot).delete()
    ChatbotPlugin.objects.bulk_create(
        ChatbotPlugin(chatbot=chatbot, plugin=plugin, position=index) for index, plugin in enumerate(plugins)
    )
    return True


def _label_of(name: str, subdomain: str) -> str:
    return (subdomain or name).replace("_", "-").lower()


def _label_conflict(account: Account, label: str, name: str) -> Conflict:
    return Conflict(
        f"Another chatbot of your account already answers on the host label {label!r}; choose another subdomain.",
        context={"kind": "Chatbot", "name": name, "subdomain": label},
    )


@transaction.atomic
def chatbot_create(*, account: Account, name: str, plugins: list[Plugin], **fields: Any) -> Chatbot:
    label = _label_of(name, fields.get("subdomain", ""))
    if Chatbot.objects.filter(account=account, name=name).exists():
        raise Conflict(f"A chatbot named {name!r} already exists.", context={"kind": "Chatbot", "name": name})
    if Chatbot.objects.filter(account=account, host_label=label).exists():
        raise _label_conflict(account, label, name)
    try:
        with transaction.atomic():
            chatbot = Chatbot.objects.create(account=account, name=name, host_label=label, **fields)
    except IntegrityError:
        raise Conflict(f"A chatbot named {name!r} already exists.", context={"kind": "Chatbot", "name": name}) from None
    _set_plugins(chatbot, plugins)
    _after_routing_change(chatbot, stale_hosts=[], was_deployed=False)
    return chatbot


@transaction.atomic
def chatbot_update(*, chatbot: Chatbot, plugins: list[Plugin], **fields: Any) -> bool:
    """Set what differs; returns whether anything changed (nothing is written if not)."""
    before_hosts = hosts.served_hosts(chatbot)
    was_deployed = chatbot.deployed
    if "name" in fields or "subdomain" in fields:
        fields["host_label"] = _label_of(fields.get("name", chatbot.name), fields.get("subdomain", chatbot.subdomain))
        if (
            fields["host_label"] != chatbot.host_label
            and Chatbot.objects.filter(account=chatbot.account, host_label=fields["host_label"])
            .exclude(pk=chatbot.pk)
            .exists()
        ):
            raise _label_conflict(chatbot.account, fields["host_label"], chatbot.name)
    changed = _set_fields(chatbot, fields)
    if changed:
        chatbot.save(update_fields=[*changed, "updated_at"])
    plugins_changed = _set_plugins(chatbot, plugins)
    if set(changed) & {*_ROUTING_FIELDS, "host_label"}:
        _after_routing_change(chatbot, stale_hosts=before_hosts, was_deployed=was_deployed)
    return bool(changed) or plugins_changed


def chatbot_delete(*, chatbot: Chatbot) -> None:
    """Refused with 409 while a channel answers with it (deleting one would take a phone number's
    conversations with it: the channel is deleted first, by whoever may)."""
    served = hosts.served_hosts(chatbot)
    was_deployed, chatbot_id = chatbot.deployed, chatbot.pk
    try:
        with transaction.atomic():
            chatbot.delete()
    except models.RestrictedError as error:
        users = sorted({f"{type(row).__name__} {getattr(row, 'name', row.pk)}" for row in error.restricted_objects})
        raise Conflict(
            f"Chatbot {chatbot.name!r} is in use by {', '.join(users)}; delete those first.",
            context={"kind": "Chatbot", "name": chatbot.name, "usedBy": users},
        ) from None
    _forget(served)
    if was_deployed:
        _enqueue_deployment_sync(chatbot_id, served)


def account_chatbots_reroute(*, account: Account, deleting: bool = False) -> None:
    """The account was activated, deactivated or is being deleted: its chatbots' hosts change their
    answer at once. Their cached routes are forgotten now and once committed (every process reads
    the shared cache; a process's own would still be checked against the database by the public
    views), and the automation adds or removes their Ingresses and records."""
    chatbots = list(Chatbot.objects.filter(account=account).select_related("account"))
    served = [host for chatbot in chatbots for host in hosts.served_hosts(chatbot)]
    _forget(served)
    transaction.on_commit(lambda: _forget(served))
    for chatbot in chatbots:
        if chatbot.deployed:
            _enqueue_deployment_sync(chatbot.pk, hosts.served_hosts(chatbot) if deleting else [])


# --- deployment -------------------------------------------------------------------------------
@transaction.atomic
def chatbot_deploy(*, chatbot: Chatbot) -> bool:
    """Serve the chatbot on its hosts; returns whether it changed (deploying twice is harmless)."""
    if chatbot.deployed:
        return False
    chatbot.deployed = True
    chatbot.save(update_fields=["deployed", "updated_at"])
    _after_routing_change(chatbot, stale_hosts=[], was_deployed=False)
    return True


@transaction.atomic
def chatbot_undeploy(*, chatbot: Chatbot) -> bool:
    """Stop serving the chatbot (its hosts answer 404); returns whether it changed."""
    if not chatbot.deployed:
        return False
    chatbot.deployed = False
    chatbot.save(update_fields=["deployed", "updated_at"])
    _after_routing_change(chatbot, stale_hosts=[], was_deployed=True)
    return True


def _forget(served: list[str]) -> None:
    forget_hosts(served)


def _after_routing_change(chatbot: Chatbot, *, stale_hosts: list[str], was_deployed: bool) -> None:
    """Keep the domain claim in step, forget cached routes (now and once committed, so no request
    caches the old answer in between), and let the automation follow."""
    _sync_domain(chatbot)
    current = hosts.served_hosts(chatbot)
    every = list(dict.fromkeys([*stale_hosts, *current]))
    _forget(every)
    transaction.on_commit(lambda: _forget(every))
    if chatbot.deployed or was_deployed:
        _enqueue_deployment_sync(chatbot.pk, [host for host in stale_hosts if host not in current])


def _enqueue_deployment_sync(chatbot_id: int, stale_hosts: list[str]) -> None:
    if not (settings.SMARTER.kubernetes_enabled or settings.SMARTER.aws_route53_enabled):
        return
    from smarter.apps.chatbot.tasks import sync_chatbot_deployment_task

    transaction.on_commit(lambda: sync_chatbot_deployment_task.delay(chatbot_id, stale_hosts))


# --- custom domains ---------------------------------------------------------------------------
def _sync_domain(chatbot: Chatbot) -> None:
    """The chatbot's domain claim follows `custom_domain`: a new domain starts pending with a fresh
    token, beside any other chatbot's pending claim of it; a domain another chatbot has verified
    is a conflict."""
    claim = ChatbotDomain.objects.filter(chatbot=chatbot).first()
    wanted = chatbot.custom_domain
    if claim is not None and claim.domain == wanted:
        return
    if claim is not None:
        claim.delete()
    if not wanted:
        return
    if ChatbotDomain.objects.filter(verified_domain=wanted).exists():
        raise _domain_conflict(chatbot, wanted)
    claim = ChatbotDomain.objects.create(chatbot=chatbot, domain=wanted, token=secrets.token_urlsafe(24))
    claim_id = claim.pk
    transaction.on_commit(lambda: _enqueue_domain_check(claim_id))


def _domain_conflict(chatbot: Chatbot, domain: str) -> Conflict:
    return Conflict(
        f"The domain {domain!r} belongs to another chatbot, which has verified it.",
        context={"kind": "Chatbot", "name": chatbot.name, "customDomain": domain},
    )


def _enqueue_domain_check(claim_id: int) -> None:
    from smarter.apps.chatbot.tasks import verify_custom_domain_task

    verify_custom_domain_task.delay(claim_id)


def domain_claim_deadline(claim: ChatbotDomain) -> datetime | None:
    """When an unverified claim is released (None once verified)."""
    if claim.verified_domain is not None:
        return None
    return claim.created_at + timedelta(days=settings.SMARTER.custom_domain_claim_days)


def domain_verify(*, claim: ChatbotDomain, timeout: float = 3.0) -> str:
    """Look up the claim's TXT record now and record the outcome; returns the status, or
    "released" when another chatbot verified the domain first.

    The first verified claim owns the domain; the other claims of it are released. A verified
    domain stays verified (a later failed lookup is a DNS hiccup, not a revocation).
    """
    from smarter.apps.chatbot.domain_check import challenge_found

    if claim.status == DomainStatus.VERIFIED:
        return claim.status
    found = challenge_found(claim.challenge_name, claim.token, timeout=timeout)
    now = timezone.now()
    claim.last_checked_at = now
    if not found:
        ChatbotDomain.objects.filter(pk=claim.pk).update(last_checked_at=now)
        return claim.status
    try:
        with transaction.atomic():
            updated = ChatbotDomain.objects.filter(pk=claim.pk).update(
                status=DomainStatus.VERIFIED, verified_domain=claim.domain, verified_at=now, last_checked_at=now
            )
    except IntegrityError:  # another claim of the domain verified it first: it is theirs
        _release_claim(claim, why="another chatbot verified it first")
        return "released"
    if not updated:  # released meanwhile by the claim that verified first
        return "released"
    claim.status, claim.verified_domain, claim.verified_at = DomainStatus.VERIFIED, claim.domain, now
    others = ChatbotDomain.objects.filter(domain=claim.domain).exclude(pk=claim.pk).select_related("chatbot")
    for other in others:
        _release_claim(other, why=f"chatbot {claim.chatbot_id} verified it")
    _forget([claim.domain])
    if claim.chatbot.deployed:
        _enqueue_deployment_sync(claim.chatbot_id, [])
    return claim.status


@transaction.atomic
def _release_claim(claim: ChatbotDomain, *, why: str) -> None:
    """Give the domain up: the claim goes, and the chatbot's `customDomain` is cleared, so its
    manifest says what it holds (applying the domain again makes a new claim, with a new token)."""
    ChatbotDomain.objects.filter(pk=claim.pk).delete()
    Chatbot.objects.filter(pk=claim.chatbot_id, custom_domain=claim.domain).update(
        custom_domain="", updated_at=timezone.now()
    )
    _forget([claim.domain])
    logger.info("custom domain %s released by chatbot %s: %s", claim.domain, claim.chatbot_id, why)


def domain_fail(*, claim: ChatbotDomain) -> None:
    """The checks gave up: the record was never found. `describe` keeps checking on demand."""
    if claim.status == DomainStatus.PENDING:
        claim.status = DomainStatus.FAILED
        claim.save(update_fields=["status"])


def domain_claims_expire(*, now: datetime | None = None, timeout: float = 3.0) -> int:
    """Release every claim still unverified `SMARTER_CUSTOM_DOMAIN_CLAIM_DAYS` after it was made,
    after one last look for its record; returns how many were released."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SMARTER.custom_domain_claim_days)
    released = 0
    stale = ChatbotDomain.objects.filter(verified_domain__isnull=True, created_at__lt=cutoff)
    for claim in stale.select_related("chatbot", "chatbot__account").order_by("pk"):
        # Verified at this last look, it stays; released meanwhile (another verified), it is gone.
        if domain_verify(claim=claim, timeout=timeout) in (DomainStatus.PENDING, DomainStatus.FAILED):
            _release_claim(claim, why="not verified in time")
            released += 1
    return released


@transaction.atomic
def provider_create(*, account: Account, name: str, **fields: Any) -> Provider:
    return Provider.objects.create(account=account, name=name, **fields)


@transaction.atomic
def provider_update(*, provider: Provider, **fields: Any) -> bool:
    changed = _set_fields(provider, fields)
    if changed:
        provider.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def provider_delete(*, provider: Provider) -> None:
    """Refused with 409 while a chatbot names the provider."""
    users = list(
        Chatbot.objects.filter(account=provider.account, provider=provider.name).values_list("name", flat=True)
    )
    if users:
        names = [f"Chatbot {name}" for name in users]
        raise Conflict(
            f"Provider {provider.name!r} is in use by {', '.join(names)}; change or delete those first.",
            context={"kind": "Provider", "name": provider.name, "usedBy": names},
        )
    provider.delete()
