"""Fixtures of the channel tests: the providers' REST APIs on loopback, and an HTTP client of
the served platform (where the webhooks are)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smarter.testing.messaging_stub import MessagingStub


@pytest.fixture
def provider_api(smarter_settings: Any) -> Iterator[MessagingStub]:
    """The Graph and Twilio REST stand-in; the platform may send to it (a loopback address)."""
    smarter_settings.allow_private_hosts = True
    with MessagingStub() as stub:
        yield stub


@pytest.fixture
def web(asgi_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=asgi_server.url, timeout=60) as client:
        yield client
