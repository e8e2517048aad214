"""The DNS check of a custom domain: a TXT record `_smarter-challenge.<domain>` holding the token."""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings


def resolver(timeout: float) -> dns.resolver.Resolver:
    """The configured resolver (`SMARTER_DNS_RESOLVER`), else the system's."""
    address = settings.SMARTER.dns_resolver_address
    if address is None:
        chosen = dns.resolver.Resolver()
    else:
        chosen = dns.resolver.Resolver(configure=False)
        chosen.nameservers = [address[0]]
        chosen.port = address[1]
    chosen.lifetime = timeout
    chosen.timeout = timeout
    return chosen


def challenge_found(name: str, token: str, *, timeout: float = 3.0) -> bool:
    """Whether a TXT record of `name` holds exactly `token`. No answer (or no server) is False."""
    try:
        answer = resolver(timeout).resolve(name, "TXT", raise_on_no_answer=False)
    except (dns.exception.DNSException, OSError):
        return False
    return any(b"".join(record.strings).decode("utf-8", "replace") == token for record in answer.rrset or [])
