"""Pytest fixtures over the stub servers; a conftest enables them with
`pytest_plugins = ["smarter.testing.fixtures"]`, or a test module imports what it needs."""

from __future__ import annotations

from collections.abc import Iterator

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
