"""Pytest fixtures over the stub servers and the typed settings; a conftest enables them with
`pytest_plugins = ["smarter.testing.fixtures"]`, or a test module imports what it needs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from smarter.testing.openai_stub import OpenAIStub


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A fresh stub upstream on a free loopback port, stopped after the test.

    `openai_stub.url` is the base URL to configure; `enqueue(...)` scripts the replies;
    `chat_requests` is what the code under test sent.
    """
    with OpenAIStub() as stub:
        yield stub
        assert stub.errors == [], "the stub upstream itself failed"


class SmarterSettingsOverride:
    """Fields of the typed configuration (`settings.SMARTER`) set for one test:
    `smarter_settings.llm_provider = "openai"`. Each assignment is validated like the
    environment's value, and pytest-django's `settings` fixture restores the object afterwards."""

    def __init__(self, django_settings: Any) -> None:
        object.__setattr__(self, "_settings", django_settings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._settings.SMARTER, name)

    def __setattr__(self, name: str, value: Any) -> None:
        current = self._settings.SMARTER
        if name not in type(current).model_fields:
            raise AttributeError(f"{name!r} is not a field of the configuration; set one of its fields")
        self._settings.SMARTER = current.overridden(**{name: value})


@pytest.fixture
def smarter_settings(settings: Any) -> SmarterSettingsOverride:
    """Override fields of `settings.SMARTER` for this test (see `SmarterSettingsOverride`)."""
    return SmarterSettingsOverride(settings)


def worker_redis_url() -> str:
    """The Redis database of this test process: `SMARTER_TEST_REDIS_URL` (database 15 by default)
    for a run in one process, the next lower number for each further pytest-xdist worker, so
    that workers running side by side never flush or read each other's keys."""
    base = os.environ.get("SMARTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    prefix, _, number = base.rpartition("/")
    database = int(number or 0) - int(worker.removeprefix("gw"))
    if database < 0:
        raise RuntimeError(f"too many test processes for the Redis databases below {base}: run fewer")
    return f"{prefix}/{database}"


def flushed_redis_or_skip(url: str) -> str:
    """`url`'s database emptied (never the whole server), or a skip naming what is missing."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {url}: {error}")
    return url


@pytest.fixture
def redis_url() -> str:
    """A real Redis on loopback (this process's database, flushed before the test), or a skip naming it."""
    return flushed_redis_or_skip(worker_redis_url())


@pytest.fixture
def platform_upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    """The platform's own provider (`openai`, with the platform's key) is a stub upstream on
    loopback: what a turn of a chatbot without its own Provider calls."""
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub
