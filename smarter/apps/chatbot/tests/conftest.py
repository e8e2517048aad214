"""Fixtures of the chatbot tests: hosts on loopback, and the local stand-ins of DNS, Kubernetes and AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from smarter.apps.chatbot.tests.servers import DnsServer, KubernetesStandIn, MotoServer


@pytest.fixture(autouse=True)
def _fresh_route_cache() -> Iterator[None]:
    """Routes are cached per host; a test starts (and leaves) with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dns_server(smarter_settings: Any) -> Iterator[DnsServer]:
    with DnsServer() as server:
        smarter_settings.dns_resolver = f"127.0.0.1:{server.port}"
        yield server


@pytest.fixture
def kubernetes_api(smarter_settings: Any) -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as stand_in:
        smarter_settings.kubernetes_enabled = True
        smarter_settings.kubernetes_api_url = stand_in.url
        smarter_settings.kubernetes_namespace = "chatbots"
        smarter_settings.kubernetes_ingress_class = "nginx"
        smarter_settings.kubernetes_cluster_issuer = "letsencrypt-prod"
        smarter_settings.kubernetes_service_name = "smarter-web"
        smarter_settings.kubernetes_service_port = 80
        yield stand_in


@pytest.fixture
def route53(smarter_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's server on loopback with a hosted zone for the root domain; yields a boto3 client."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with MotoServer() as moto:
        client = boto3.client("route53", region_name="us-east-1", endpoint_url=moto.url)
        zone = client.create_hosted_zone(Name="example.com.", CallerReference="smarter-tests")["HostedZone"]["Id"]
        smarter_settings.root_domain = "example.com"
        smarter_settings.aws_route53_enabled = True
        smarter_settings.aws_endpoint_url = moto.url
        smarter_settings.aws_region = "us-east-1"
        smarter_settings.aws_route53_hosted_zone_id = zone
        smarter_settings.aws_route53_target = "ingress.example.net"
        smarter_settings.aws_route53_ttl = 300
        client.zone_id = zone
        yield client
