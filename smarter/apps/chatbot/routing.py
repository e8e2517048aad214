"""Which site a request's Host names: the platform, a deployed chatbot, or nothing we serve.

A chatbot answers on `<label>.<account-number>.api.<root-domain>` and on its verified custom
domain. The answer for a host is kept in Django's cache, so routing a request costs one cache
read whatever the number of chatbots; on a miss, one indexed query (by account number and
label, or by domain) fills it. The services forget a chatbot's hosts whenever a change could
alter their answer (deploy, undeploy, rename, domain change, deletion).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.core.cache import cache
from django.http.request import split_domain_port

from smarter.apps.chatbot.models import Chatbot, ChatbotDomain

RouteKind = Literal["platform", "chatbot", "undeployed", "unverified", "unknown"]

CACHE_SECONDS = 300
_CACHE_PREFIX = "host-route:"
_ACCOUNT_NUMBER = re.compile(r"^\d{4}-\d{4}-\d{4}$")
_FIXED_PLATFORM_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    chatbot_id: int | None = None


PLATFORM = Route("platform")
UNKNOWN = Route("unknown")


def normalize_host(host: str) -> str:
    """`Support.1234-5678-9012.API.example.com.:8000` → `support.1234-5678-9012.api.example.com`."""
    domain, _ = split_domain_port(host.strip())
    return domain  # split_domain_port lowercases and drops a trailing dot


def platform_hosts() -> frozenset[str]:
    configured = settings.SMARTER.platform_host.partition(":")[0].lower()
    return frozenset((configured, *settings.SMARTER.platform_hostnames, *_FIXED_PLATFORM_HOSTS))


def _cache_key(domain: str) -> str:
    return _CACHE_PREFIX + domain


def cached_route(domain: str) -> Route | None:
    """The answer for a normalized host without touching the database, if it is known."""
    if not domain:
        return UNKNOWN
    if domain in platform_hosts():
        return PLATFORM
    hit = cache.get(_cache_key(domain))
    return Route(hit[0], hit[1]) if hit is not None else None


def route_from_database(domain: str) -> Route:
    """The answer for a normalized host from the database, then cached."""
    route = _lookup(domain)
    cache.set(_cache_key(domain), (route.kind, route.chatbot_id), CACHE_SECONDS)
    return route


def route_for_host(domain: str) -> Route:
    return cached_route(domain) or route_from_database(domain)


def _lookup(domain: str) -> Route:
    suffix = f".api.{settings.SMARTER.root_domain}"
    if domain.endswith(suffix):
        label, _, account_number = domain.removesuffix(suffix).partition(".")
        if not label or not _ACCOUNT_NUMBER.match(account_number):
            return UNKNOWN
        row = (
            Chatbot.objects.filter(account__account_number=account_number, host_label=label)
            .values("id", "deployed", "account__is_active")
            .first()
        )
        if row is None:
            return UNKNOWN
        if row["deployed"] and row["account__is_active"]:
            return Route("chatbot", row["id"])
        return Route("undeployed", row["id"])
    # The verified claim owns the domain; unverified ones (there may be several) route nowhere.
    claim = (
        ChatbotDomain.objects.filter(verified_domain=domain)
        .values("chatbot_id", "chatbot__deployed", "chatbot__account__is_active")
        .first()
    )
    if claim is None:
        pending = ChatbotDomain.objects.filter(domain=domain).values_list("chatbot_id", flat=True).first()
        return Route("unverified", pending) if pending is not None else UNKNOWN
    if claim["chatbot__deployed"] and claim["chatbot__account__is_active"]:
        return Route("chatbot", claim["chatbot_id"])
    return Route("undeployed", claim["chatbot_id"])


def forget_hosts(hosts: Iterable[str]) -> None:
    """Drop the cached answers for these hosts (the next request reads the database)."""
    keys = [_cache_key(normalize_host(host)) for host in hosts if host]
    if keys:
        cache.delete_many(keys)


def routed_chatbot(chatbot_id: int) -> Chatbot | None:
    """The chatbot a public host routed to. Routing by host is how the public surface finds its
    tenant, so this read is by id; it still answers None unless the chatbot is deployed and its
    account active, now: a route cached by a process that missed an undeploy, a deactivation or
    a deletion serves nothing."""
    return (
        Chatbot.objects.select_related("account", "api_key")
        .filter(pk=chatbot_id, deployed=True, account__is_active=True)
        .first()
    )
