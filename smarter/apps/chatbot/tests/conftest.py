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
def dns_server(settings: Any) -> Iterator[DnsServer]:
    with DnsServer() as server:
        settings.SMARTER_DNS_RESOLVER = ("127.0.0.1", server.port)
        yield server


@pytest.fixture
def kubernetes_api(settings: Any) -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as stand_in:
        settings.SMARTER_KUBERNETES_ENABLED = True
        settings.SMARTER_KUBERNETES_API_URL = stand_in.url
        settings.SMARTER_KUBERNETES_NAMESPACE = "chatbots"
        settings.SMARTER_KUBERNETES_INGRESS_CLASS = "nginx"
        settings.SMARTER_KUBERNETES_CLUSTER_ISSUER = "letsencrypt-prod"
        settings.SMARTER_KUBERNETES_SERVICE_NAME = "smarter-web"
        settings.SMARTER_KUBERNETES_SERVICE_PORT = 80
        yield stand_in


@pytest.fixture
def route53(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's server on loopback with a hosted zone for the root domain; yields a boto3 client."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with MotoServer() as moto:
        client = boto3.client("route53", region_name="us-east-1", endpoint_url=moto.url)
        zone = client.create_hosted_zone(Name="example.com.", CallerReference="smarter-tests")["HostedZone"]["Id"]
        settings.SMARTER_ROOT_DOMAIN = "example.com"
        settings.SMARTER_AWS_ROUTE53_ENABLED = True
        settings.SMARTER_AWS_ENDPOINT_URL = moto.url
        settings.SMARTER_AWS_REGION = "us-east-1"
        settings.SMARTER_AWS_ROUTE53_HOSTED_ZONE_ID = zone
        settings.SMARTER_AWS_ROUTE53_TARGET = "ingress.example.net"
        settings.SMARTER_AWS_ROUTE53_TTL = 300
        client.zone_id = zone
        yield client
