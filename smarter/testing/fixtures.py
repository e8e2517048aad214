"""Pytest fixtures over the stub servers and the typed settings; a conftest enables them with
`pytest_plugins = ["smarter.testing.fixtures"]`, or a test module imports what it needs."""

from __future__ import annotations

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
