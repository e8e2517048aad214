"""The one normalised view of a tenant's URL or host: what is accepted becomes the ASCII form the
clients will use, what cannot be normalised is refused, and every spelling of a refused address
is refused for what the server fetches."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
import yarl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smarter.lib.outbound import (
    OutboundRefused,
    address_refusal,
    browser_url,
    host_refusal,
    normalise_destination,
    parse_ipv4,
    server_host,
    server_url,
)
from smarter.testing import spellings
from smarter.testing.spellings import (
    IDEOGRAPHIC_FULL_STOP,
    LOOPBACK_SPELLINGS,
    METADATA_SPELLINGS,
    PRIVATE_SPELLINGS,
    UNNORMALISABLE_HOSTS,
    fullwidth_letters,
)

REFUSED_SPELLINGS = LOOPBACK_SPELLINGS + PRIVATE_SPELLINGS + METADATA_SPELLINGS


@pytest.fixture
def strict(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = False
    return smarter_settings


@pytest.fixture
def development(settings: Any, smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = True
    return settings


NORMALISED = [
    ("https://API.Example.COM/v1", "https://api.example.com/v1"),
    ("HTTPS://api.example.com", "https://api.example.com"),
    ("https://api.example.com./v1", "https://api.example.com/v1"),
    ("https://api.example.com:8443/v1/", "https://api.example.com:8443/v1/"),
    (f"https://{fullwidth_letters('example')}.com/v1", "https://example.com/v1"),
    (f"https://example{IDEOGRAPHIC_FULL_STOP}com/v1", "https://example.com/v1"),
    ("https://exämple.com/päth?q=ü#top", "https://xn--exmple-cua.com/p%C3%A4th?q=%C3%BC#top"),
    ("https://xn--exmple-cua.com/", "https://xn--exmple-cua.com/"),
    ("https://my_host.example.com/", "https://my_host.example.com/"),
    ("http://93.184.216.34/v1", "http://93.184.216.34/v1"),
    ("http://0x5db8d822/v1", "http://93.184.216.34/v1"),
    ("http://1572395042/v1", "http://93.184.216.34/v1"),
    ("http://[2606:4700:4700:0:0:0:0:1111]:8080/", "http://[2606:4700:4700::1111]:8080/"),
    ("https://api.example.com/search?q=a&b=c", "https://api.example.com/search?q=a&b=c"),
]


@pytest.mark.parametrize(("written", "normalised"), NORMALISED)
def test_an_accepted_url_is_stored_as_the_clients_will_read_it(strict: Any, written: str, normalised: str) -> None:
    assert server_url(written) == normalised
    assert normalised.isascii()


REFUSED_URLS = [
    ("ftp://example.com/", "only http and https URLs are accepted, not 'ftp'"),
    ("file:///etc/passwd", "only http and https URLs are accepted, not 'file'"),
    ("gopher://example.com/", "only http and https URLs are accepted, not 'gopher'"),
    ("javascript:alert(1)", "must be an http:// or https:// URL"),
    ("example.com/v1", "must be an http:// or https:// URL"),
    ("//example.com/v1", "must be an http:// or https:// URL"),
    ("http:/example.com", "must be an http:// or https:// URL"),
    ("http:///v1", "the URL has no host"),
    ("http://user:secret@example.com/", "credentials in the URL are not accepted"),
    ("http://@example.com/", "credentials in the URL are not accepted"),
    ("http://example.com:0/", "the port must be a number from 1 to 65535, not '0'"),
    ("http://example.com:65536/", "the port must be a number from 1 to 65535, not '65536'"),
    ("http://example.com:http/", "the port must be a number from 1 to 65535, not 'http'"),
    ("http://example.com:/", "the port must be a number from 1 to 65535, not ''"),
    (f"http://example.com:{spellings.digits('80', spellings.FULLWIDTH_DIGITS)}/", "the port must be a number"),
    ("http://example.com:80:80/", "not a valid host name"),
    ("http://exa mple.com/", "must not contain a space (U+0020 at position 10)"),
    ("http://example.com/a b", "must not contain a space (U+0020 at position 20)"),
    (" http://example.com/", "must not contain a space"),
    ("http://example.com/\tv1", "must not contain a line break, control or format character (U+0009"),
    ("http://example.com/v1\r\nX-Injected: 1", "(U+000D at position 21)"),
    ("http://example.com/v1\n", "(U+000A at position 21)"),
    ("http://example.com/\x00", "(U+0000"),
    ("http://example.com/\u202e", "(U+202E"),
    ("http://example.com/\u3000", "must not contain a space (U+3000"),
    ("http://example.com\\@127.0.0.1/", "must not contain a backslash"),
    ("http:\\\\example.com/", "must be an http:// or https:// URL"),
    ("http://[::1/", "is not a valid URL"),
    ("http://[::1]x/", "an IPv6 host is written [address], followed by nothing but :port"),
    ("http://::1/", "not a valid host name"),
]


@pytest.mark.parametrize(("written", "message"), REFUSED_URLS)
def test_what_cannot_be_normalised_is_refused_with_a_clear_message(strict: Any, written: str, message: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        server_url(written)
    assert message in str(refused.value)


@pytest.mark.parametrize(("host", "message", "what"), UNNORMALISABLE_HOSTS)
def test_a_host_that_cannot_be_normalised_is_refused_in_a_url_and_alone(
    development: Any, host: str, message: str, what: str
) -> None:
    with pytest.raises(OutboundRefused, match=message):
        server_url(f"https://{host}/v1")
    with pytest.raises(OutboundRefused, match=message):
        server_host(host)
    with pytest.raises(OutboundRefused, match=message):
        browser_url(f"https://{host}/logo.png")


@pytest.mark.parametrize(("host", "reason", "what"), REFUSED_SPELLINGS)
def test_every_spelling_of_a_refused_address_is_refused_for_what_the_server_fetches(
    strict: Any, host: str, reason: str, what: str
) -> None:
    with pytest.raises(OutboundRefused) as in_url:
        server_url(f"http://{host}:8080/v1")
    assert reason in str(in_url.value)
    assert str(in_url.value).startswith(f"{host} may not be reached: ")
    with pytest.raises(OutboundRefused) as alone:
        server_host(host)
    assert reason in str(alone.value)


@pytest.mark.parametrize(("host", "reason", "what"), METADATA_SPELLINGS)
def test_the_private_hosts_setting_never_opens_metadata_link_local_or_shared_addresses(
    development: Any, host: str, reason: str, what: str
) -> None:
    with pytest.raises(OutboundRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        server_url(f"http://{host}/latest/meta-data/")
    with pytest.raises(OutboundRefused):
        server_host(host)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        (spellings.digits("127.0.0.1", spellings.FULLWIDTH_DIGITS), "127.0.0.1"),
        (spellings.circled("10.0.0.1"), "10.0.0.1"),
        ("[::ffff:192.168.0.1]", "::ffff:c0a8:1"),
        ("[fd12::1]", "fd12::1"),
    ],
)
def test_the_private_hosts_setting_opens_loopback_and_private_ranges_in_their_normalised_form(
    development: Any, host: str, address: str
) -> None:
    destination = normalise_destination(f"http://{host}:8080/v1")
    assert destination.host == address
    assert destination.url == f"http://{'[' + address + ']' if ':' in address else address}:8080/v1"


@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("localhost", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("API.localhost", "api.localhost"),
        (fullwidth_letters("localhost"), "localhost"),
    ],
)
def test_the_private_hosts_setting_opens_loopback_names(development: Any, host: str, normalised: str) -> None:
    assert server_host(host) == normalised


BROWSER_REFUSED = [
    ("https://cdn.example.com/logo.png'onerror='x", "must not contain quotes or angle brackets (' at position"),
    ('https://cdn.example.com/logo.png")', 'must not contain quotes or angle brackets (" at position'),
    ("https://cdn.example.com/<svg>", "must not contain quotes or angle brackets (< at position"),
    ("https://cdn.example.com/`x`", "must not contain quotes or angle brackets (` at position"),
    ("https://cdn.example.com/a b.png", "must not contain a space"),
    ("https://cdn.example.com/a\nb.png", "U+000A"),
    ("https://cdn.example.com\\logo.png", "must not contain a backslash"),
    ("javascript:alert(1)", "must be an http:// or https:// URL"),
    ("data:image/svg+xml,<svg onload=alert(1)>", "must be an http:// or https:// URL"),
    ("//cdn.example.com/logo.png", "must be an http:// or https:// URL"),
]


@pytest.mark.parametrize(("written", "message"), BROWSER_REFUSED)
def test_a_url_for_the_browser_is_refused_if_it_could_leave_an_attribute_or_a_css_url(
    strict: Any, written: str, message: str
) -> None:
    with pytest.raises(OutboundRefused) as refused:
        browser_url(written)
    assert message in str(refused.value)


def test_a_url_for_the_browser_may_name_any_host_and_is_stored_normalised(strict: Any) -> None:
    # Only the visitor's browser fetches it: the platform's network is not involved.
    assert browser_url("http://127.0.0.1:8000/logo.png") == "http://127.0.0.1:8000/logo.png"
    assert browser_url("https://intranet.local/logo.png") == "https://intranet.local/logo.png"
    written = f"https://{fullwidth_letters('cdn')}.exämple.com/Logo (1).png".replace(" ", "%20")
    assert browser_url(written) == "https://cdn.xn--exmple-cua.com/Logo%20(1).png"


# --- properties -----------------------------------------------------------------------------------
# Characters a host may be spelled with: ASCII digits, dots, hex markers and letters, and every
# Unicode character that NFKC folds to an ASCII digit or dot (found by asking unicodedata).
def _folds_to_digit_or_dot() -> list[str]:
    import unicodedata

    found = []
    for code in range(0x80, 0x20000):
        character = chr(code)
        folded = unicodedata.normalize("NFKC", character)
        if folded and all(c in "0123456789." for c in folded):
            found.append(character)
    return found


LOOKALIKES = _folds_to_digit_or_dot()
HOST_ALPHABET = st.sampled_from(list("0123456789.xXabcdefl:[]%-_") + LOOKALIKES)
NUMERIC_ALPHABET = st.sampled_from(list("0123456789.xXabcdefABCDEF"))


def test_the_lookalikes_the_properties_draw_from_are_many() -> None:
    assert len(LOOKALIKES) > 100
    assert "\uff11" in LOOKALIKES and "\u2460" in LOOKALIKES and "\u3002" not in LOOKALIKES  # 。 maps by UTS 46


def _resolver_view(url: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None] | None:
    """The host aiohttp would connect to for `url` (yarl's IDNA mapping, then the C resolver's
    reading of numbers), or None when yarl refuses the URL."""
    try:
        host = yarl.URL(url).raw_host
    except (ValueError, UnicodeError):
        return None
    if not host:
        return None
    host = host.lower().removesuffix(".")
    try:
        return host, ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return host, ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError, UnicodeError):
        return host, None


def _resolver_decision(host: str, address: Any) -> str | None:
    if address is not None:
        return address_refusal(address, allow_private=False)
    return host_refusal(host, None, allow_private=False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.text(HOST_ALPHABET, min_size=1, max_size=24))
def test_an_accepted_url_is_ascii_and_judged_as_the_client_would_judge_it(host: str) -> None:
    url = f"http://{host}:8080/v1"
    try:
        destination = normalise_destination(url, fetched_by="browser")  # normalised, no policy yet
    except OutboundRefused:
        return
    assert destination.url.isascii() and destination.host.isascii()
    view = _resolver_view(url)
    assume(view is not None)
    assert view is not None
    ours = host_refusal(destination.host, destination.address, allow_private=False)
    assert ours == _resolver_decision(*view)


@settings(max_examples=400, deadline=None)
@given(st.text(HOST_ALPHABET, min_size=1, max_size=24))
def test_no_spelling_the_client_reads_as_a_refused_address_is_accepted(host: str) -> None:
    url = f"http://{host}:8080/v1"
    view = _resolver_view(url)
    assume(view is not None and _resolver_decision(*view) is not None)
    with pytest.raises(OutboundRefused):
        normalise_destination(url, allow_private=False)


@settings(max_examples=400, deadline=None)
@given(st.text(NUMERIC_ALPHABET, min_size=1, max_size=20))
def test_ipv4_spellings_are_read_as_the_c_resolver_reads_them(host: str) -> None:
    ours = parse_ipv4(host.lower())
    try:
        resolver: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        resolver = None
    if ours is not None:
        assert ours == resolver
    elif resolver is not None:
        # A form the resolver reads that we do not: it must then be refused, never taken for a name.
        with pytest.raises(OutboundRefused):
            server_host(host)


DIGIT_BLOCKS = [0x30, 0xFF10, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6]  # ASCII, fullwidth, mathematical
DOT_FORMS = [".", "\u3002", "\uff0e", "\uff61"]
INTERESTING = [
    ipaddress.IPv4Address(text)
    for text in (
        *("127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254"),
        *("100.100.100.200", "100.64.0.1", "0.0.0.0", "224.0.0.1", "93.184.216.34", "8.8.8.8"),  # noqa: S104
    )
]


@st.composite
def spelled_ipv4(draw: Any) -> tuple[str, ipaddress.IPv4Address]:
    """An IPv4 address and one of its many spellings: 1 to 4 parts, each decimal, octal or hex,
    with digits from one of several Unicode blocks and any form of full stop between them."""
    address = draw(st.one_of(st.sampled_from(INTERESTING), st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))))
    count = draw(st.integers(1, 4))
    octets = list(address.packed)
    parts = [*octets[: count - 1], int.from_bytes(bytes(octets[count - 1 :]), "big")]
    written = []
    for part in parts:
        style = draw(st.sampled_from(["decimal", "octal", "hex"]))
        text = str(part) if style == "decimal" else (f"0{part:o}" if style == "octal" else f"0x{part:x}")
        written.append(spellings.digits(text, draw(st.sampled_from(DIGIT_BLOCKS))))
    host = "".join(
        piece + (draw(st.sampled_from(DOT_FORMS)) if index < len(written) - 1 else "")
        for index, piece in enumerate(written)
    )
    if draw(st.booleans()):
        host += draw(st.sampled_from(DOT_FORMS))
    return host, address


@settings(max_examples=600, deadline=None)
@given(spelled_ipv4())
def test_every_spelling_of_an_address_is_read_as_that_address_and_judged_by_it(
    spelled: tuple[str, ipaddress.IPv4Address],
) -> None:
    host, address = spelled
    url = f"http://{host}:8080/v1"
    view = _resolver_view(url)
    if view is not None:  # what aiohttp would connect to is that very address
        assert view[1] == address
    refusal = address_refusal(address, allow_private=False)
    if refusal is None:
        destination = normalise_destination(url, allow_private=False)
        assert destination.address == address and destination.host == str(address)
        assert destination.url == f"http://{address}:8080/v1"
    else:
        with pytest.raises(OutboundRefused) as refused:
            normalise_destination(url, allow_private=False)
        assert str(refused.value) == f"{host} may not be reached: {refusal}"
