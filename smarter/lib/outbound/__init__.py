"""Outbound requests to addresses a tenant chose: the guard against server-side request forgery.

A tenant names URLs and hosts (LLM providers, REST plugins, databases, later knowledge-base
documents and channels); the platform fetches them from inside its own network. So:

- every URL or host a tenant gives is normalised once, at apply time, the way the HTTP clients
  and the resolver will read it (IDNA UTS #46 with NFKC, case, trailing dot, numeric IPv4
  spellings), refused when it cannot be, and stored in that ASCII form (`destinations.py`);
- only http and https; no credentials in URLs;
- at connect time the host is resolved once, *every* address it resolves to is checked, and the
  socket is opened to one of those checked addresses (not to a name resolved again later), so a
  DNS answer that changes between the check and the connect ("rebinding") cannot slip through;
  TLS still verifies the certificate against, and sends SNI for, the original host name;
  aiohttp's sockets are checked as they are made, IP literals included (`transports.py`);
- loopback, private, link-local, shared (CGNAT), multicast, unspecified and reserved
  addresses are refused, in their IPv4, IPv6, IPv4-mapped and numeric-shorthand forms
  (`addresses.py`);
- each redirect hop opens its own connection, so it is checked the same way.

`settings.SMARTER.allow_private_hosts` lifts the refusal for loopback and private ranges (a
laptop, a test server); link-local (169.254.0.0/16, fe80::/10), the shared range 100.64.0.0/10 and
the cloud metadata addresses stay refused whatever the setting says.
"""

from smarter.lib.outbound.addresses import METADATA_ADDRESSES, IPAddress, address_refusal, parse_ipv4
from smarter.lib.outbound.destinations import (
    ALLOWED_SCHEMES,
    Destination,
    OutboundRefused,
    browser_url,
    check_url_characters,
    host_refusal,
    literal_refusal,
    normalise_destination,
    normalise_host,
    normalise_url,
    server_host,
    server_url,
)
from smarter.lib.outbound.transports import (
    DEFAULT_MAX_REDIRECTS,
    AsyncGuardedResolver,
    GuardedTransport,
    check_host,
    check_url,
    check_url_before_lookup,
    checked_addresses,
    guarded_client,
    guarded_socket,
    override_host,
    resolve,
)

__all__ = [
    "ALLOWED_SCHEMES",
    "DEFAULT_MAX_REDIRECTS",
    "METADATA_ADDRESSES",
    "AsyncGuardedResolver",
    "Destination",
    "GuardedTransport",
    "IPAddress",
    "OutboundRefused",
    "address_refusal",
    "browser_url",
    "check_host",
    "check_url",
    "check_url_before_lookup",
    "check_url_characters",
    "checked_addresses",
    "guarded_client",
    "guarded_socket",
    "host_refusal",
    "literal_refusal",
    "normalise_destination",
    "normalise_host",
    "normalise_url",
    "override_host",
    "parse_ipv4",
    "resolve",
    "server_host",
    "server_url",
]
