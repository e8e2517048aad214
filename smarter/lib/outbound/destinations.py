"""One normalised view of every URL or host a tenant gives, the way the clients will see it.

The HTTP clients and the resolver do not fetch what was written: yarl (aiohttp) maps a host
through IDNA (UTS #46, NFKC), so 127.0.0.1 written with fullwidth digits, ideographic full stops
or circled digits connects to 127.0.0.1; the C resolver reads `0x7f.1` as 127.0.0.1 too.
So every decision here is made on the host *after* that mapping: `normalise_destination` maps
it, refuses what cannot be mapped, then applies the address policy to what is left. What is
stored is the normalised, ASCII form, so a later reader sees what the clients will reach.

For an entry point, call one of (each raises `OutboundRefused`, a ValueError, with a sentence
a tenant can act on; as a pydantic `AfterValidator` the error lands on the field's path):

- `server_url(url)`: a URL the platform itself fetches (a provider's or a REST API's base URL,
  a knowledge-base document URL, a channel's API base URL); private, loopback and metadata
  hosts are refused;
- `server_host(host)`: a host the platform connects to (a database) or looks up (a custom domain);
- `browser_url(url)`: a URL only the visitor's browser fetches (a logo, a background image, an
  info link): the same parsing and host mapping, stricter characters (it may end up in HTML or
  CSS), and no private-host refusal (the browser is not inside our network).

Requests are checked again at connect time, on the address actually connected to (transports.py).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

import idna

from smarter.lib.outbound.addresses import (
    IPAddress,
    address_refusal,
    allow_private_hosts,
    ends_in_a_number,
    parse_ipv4,
)

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_HOST_LENGTH = 253

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Names the clouds give their metadata services; they resolve to link-local addresses, which are
# refused at connect time anyway: refusing the names too says so at apply.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
# Zero-width (non-)joiners are part of some scripts' spelling, and IDNA rules them (CONTEXTJ).
_JOINERS = frozenset({"\u200c", "\u200d"})
# Characters that would let a value break out of an HTML attribute or a CSS url().
_BROWSER_FORBIDDEN = frozenset("\"'`<>")


class OutboundRefused(ValueError):
    """The URL or the address it resolves to may not be fetched; the message says why.

    `reason` is the policy's own words ("127.0.0.1 is a loopback address") when the refusal is
    about where the host leads, not about how it was written."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Destination:
    """A tenant-given URL or host as the clients and the resolver will see it."""

    url: str  # the normalised URL, ASCII only ("" when only a host was given)
    scheme: str  # "http" or "https" ("" for a host)
    host: str  # ASCII, lower case, no trailing dot; an IPv6 address without brackets
    port: int | None  # as written; None: the scheme's default
    address: IPAddress | None  # the address the host spells, when it spells one

    @property
    def effective_port(self) -> int:
        return self.port or (443 if self.scheme == "https" else 80)


def normalise_destination(
    value: str,
    *,
    host_only: bool = False,
    fetched_by: Literal["server", "browser"] = "server",
    allow_private: bool | None = None,
) -> Destination:
    """`value` (a URL, or a host when `host_only`) normalised as the clients will see it, or
    OutboundRefused saying why it cannot be: not normalisable (invalid IDNA, control characters,
    spaces, backslashes, a bad port, credentials, a scheme other than http/https, no host), or,
    for what the server fetches, a host that is or spells a refused address or a loopback name."""
    if not host_only and value == value.strip():
        _check_scheme(value)  # first: "not a url" is better told it needs http(s):// than about its spaces
    check_url_characters(value, browser=fetched_by == "browser")
    if host_only:
        host, address = normalise_host(value)
        destination = Destination(url="", scheme="", host=host, port=None, address=address)
    else:
        destination = normalise_url(value)
    if fetched_by == "server":
        check_destination(destination, written=_written_host(value, host_only), allow_private=allow_private)
    return destination


def server_url(value: str) -> str:
    """The normalised form of a URL the platform will fetch; OutboundRefused when it may not."""
    return normalise_destination(value).url


def server_host(value: str) -> str:
    """The normalised form of a host the platform will connect to or look up."""
    return normalise_destination(value, host_only=True).host


def browser_url(value: str) -> str:
    """The normalised form of a URL that only a visitor's browser fetches (an image, a link)."""
    return normalise_destination(value, fetched_by="browser").url


def literal_refusal(host: str, *, allow_private: bool | None = None) -> str | None:
    """Without DNS: why `host` (normalised first, in any spelling) is refused, else None."""
    try:
        normalise_destination(host, host_only=True, allow_private=allow_private)
    except OutboundRefused as error:
        return error.reason or str(error)
    return None


def check_destination(destination: Destination, *, written: str = "", allow_private: bool | None = None) -> None:
    """Refuse a destination whose host is a refused address or a loopback or metadata name."""
    reason = host_refusal(destination.host, destination.address, allow_private=allow_private)
    if reason:
        raise OutboundRefused(f"{written or destination.host} may not be reached: {reason}", reason=reason)


def host_refusal(host: str, address: IPAddress | None, *, allow_private: bool | None = None) -> str | None:
    """Why a normalised host is refused before any lookup, or None."""
    if allow_private is None:
        allow_private = allow_private_hosts()
    if address is not None:
        return address_refusal(address, allow_private=allow_private)
    if host in METADATA_NAMES:
        return f"{host} is a cloud metadata name"
    if not allow_private and (host in LOOPBACK_NAMES or host.endswith(".localhost")):
        return f"{host} is a loopback name"
    return None


# --- parsing ------------------------------------------------------------------------------------
def check_url_characters(value: str, *, browser: bool = False) -> None:
    """Refuse what no URL may hold as written: spaces, line breaks, control and format characters,
    backslashes (read as / by browsers, not by every parser); for `browser`, quotes and angle brackets."""
    if not value:
        raise OutboundRefused("must not be empty")
    for position, character in enumerate(value):
        category = unicodedata.category(character)
        if character == "\\":
            raise OutboundRefused(f"must not contain a backslash (at position {position})")
        if category[0] in "CZ" and character not in _JOINERS:
            what = "a space" if category == "Zs" else "a line break, control or format character"
            raise OutboundRefused(f"must not contain {what} (U+{ord(character):04X} at position {position})")
        if browser and character in _BROWSER_FORBIDDEN:
            raise OutboundRefused(f"must not contain quotes or angle brackets ({character} at position {position})")


def _check_scheme(url: str) -> None:
    scheme, colon, rest = url.partition(":")
    if not colon or not rest.startswith("//") or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise OutboundRefused("must be an http:// or https:// URL")
    if scheme.lower() not in ALLOWED_SCHEMES:
        raise OutboundRefused(f"only http and https URLs are accepted, not {scheme.lower()!r}")


def _written_host(value: str, host_only: bool) -> str:
    if host_only:
        return value
    try:
        return _authority(urlsplit(value).netloc)[0]
    except (ValueError, OutboundRefused):
        return ""


def normalise_url(url: str) -> Destination:
    """`url` split and normalised (scheme, host, port), without the address policy."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise OutboundRefused(f"{url!r} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    _check_scheme(url)
    if "@" in parts.netloc:
        raise OutboundRefused("credentials in the URL are not accepted; use the connection's authMethod")
    written, port = _authority(parts.netloc)
    host, address = normalise_host(written, bare_ipv6=False)
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    normalised = f"{scheme}://{authority}{_ascii(parts.path)}"
    if parts.query or url.split("#", 1)[0].endswith("?"):
        normalised += f"?{_ascii(parts.query)}"
    if parts.fragment:
        normalised += f"#{_ascii(parts.fragment)}"
    return Destination(url=normalised, scheme=scheme, host=host, port=port, address=address)


def _authority(netloc: str) -> tuple[str, int | None]:
    """The host as written and the port of a URL's authority (credentials already refused)."""
    if netloc.startswith("["):
        host, bracket, rest = netloc.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise OutboundRefused("an IPv6 host is written [address], followed by nothing but :port")
        host += bracket
        port_text = rest[1:] if rest else None
    elif ":" in netloc:
        host, _colon, port_text = netloc.rpartition(":")
    else:
        host, port_text = netloc, None
    if not host:
        raise OutboundRefused("the URL has no host")
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise OutboundRefused(f"the port must be a number from 1 to 65535, not {port_text!r}")
    return host, int(port_text)


def _ascii(part: str) -> str:
    # Browsers and httpx send a path's non-ASCII characters percent-encoded as UTF-8; so is it stored.
    return part if part.isascii() else "".join(c if c.isascii() else quote(c, safe="") for c in part)


def normalise_host(written: str, *, bare_ipv6: bool = True) -> tuple[str, IPAddress | None]:
    """The host as the clients and the resolver will use it (ASCII, lower case, no trailing dot),
    with the address it spells if it spells one; OutboundRefused when it cannot be normalised.
    `bare_ipv6` accepts an IPv6 address without brackets (a database host, a socket's host)."""
    if written.startswith("[") or (bare_ipv6 and ":" in written):
        return _normalise_ipv6(written.removeprefix("[").removesuffix("]") if written.startswith("[") else written)
    if ":" in written or "%" in written:
        raise OutboundRefused(f"{written!r} is not a valid host name")
    mapped = written.lower() if written.isascii() else _mapped(written)
    if mapped.endswith("."):
        mapped = mapped[:-1]  # the root of the DNS: `localhost.` is `localhost`
    if mapped.isascii() and ends_in_a_number(mapped):
        address = parse_ipv4(mapped)
        if address is None:
            raise OutboundRefused(f"{written!r} is not a valid IPv4 address")
        return str(address), address
    host = mapped if mapped.isascii() else _encoded(mapped, written)
    _check_labels(host, written)
    return host, None


def _normalise_ipv6(inner: str) -> tuple[str, IPAddress | None]:
    if "%" in inner:
        raise OutboundRefused(f"[{inner}] has a zone id (%...), which is not accepted")
    try:
        if not inner.isascii():
            raise ValueError("non-ASCII characters")
        address = ipaddress.IPv6Address(inner)
    except ValueError:
        raise OutboundRefused(f"[{inner}] is not a valid IPv6 address") from None
    return address.compressed, address


def _mapped(written: str) -> str:
    """UTS #46 mapping (NFKC, case folding, every full stop form to '.'), as yarl and the resolver do."""
    try:
        return idna.uts46_remap(written, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError) as error:
        raise OutboundRefused(f"{written!r} is not a valid international domain name: {error}") from None


def _encoded(mapped: str, written: str) -> str:
    try:
        return idna.encode(mapped, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise OutboundRefused(f"{written!r} is not a valid international domain name: {error}") from None


def _check_labels(host: str, written: str) -> None:
    if len(host) > MAX_HOST_LENGTH:
        raise OutboundRefused(f"the host name is longer than {MAX_HOST_LENGTH} characters")
    for label in host.split("."):
        if not _LABEL.fullmatch(label):
            raise OutboundRefused(f"{written!r} is not a valid host name: each part is 1 to 63 letters, digits, - or _")
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError) as error:
                raise OutboundRefused(f"{written!r} is not a valid international domain name: {error}") from None
