"""The settings of deployed chatbots: the DNS resolver address and the automation endpoints."""

from __future__ import annotations

import pytest

from smarter.common.conf import ConfigurationError, load_settings


@pytest.mark.parametrize(
    ("value", "address"),
    [
        (None, None),
        ("", None),
        ("10.0.0.2", ("10.0.0.2", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_the_dns_resolver_is_an_ip_with_an_optional_port(value: str | None, address: tuple[str, int] | None) -> None:
    assert load_settings(dns_resolver=value).dns_resolver_address == address


@pytest.mark.parametrize("value", ["dns.example.com", "10.0.0.2:abc", "10.0.0.2:70000", "[::1]:x"])
def test_a_bad_dns_resolver_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(dns_resolver=value)
    assert str(raised.value).startswith("SMARTER_DNS_RESOLVER: ")


def test_automation_defaults_and_endpoints() -> None:
    settings = load_settings()
    assert (settings.kubernetes_namespace, settings.kubernetes_ingress_class, settings.kubernetes_service_port) == (
        "smarter",
        "nginx",
        80,
    )
    assert settings.kubernetes_api_url is None and settings.aws_route53_hosted_zone_id is None
    with pytest.raises(ConfigurationError) as raised:
        load_settings(kubernetes_api_url="ftp://cluster")
    assert str(raised.value).startswith("SMARTER_KUBERNETES_API_URL: must be an http:// or https:// URL")
