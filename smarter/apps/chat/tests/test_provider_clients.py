"""The kept upstream sessions (`providers/clients.py`): every one is closed, none under a request.

A session is dropped from the cache beyond `MAX_SESSIONS` (endpoint, key) pairs, and every
session goes when its event loop ends. Each must then be closed (an open one keeps its sockets
and warns "Unclosed client session" when collected), but never while a request is still reading
an answer from it. The upstream is the stub, a real server on loopback.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from asgiref.sync import async_to_sync

from smarter.apps.chat.providers import (
    Completed,
    Message,
    OpenAICompatibleProvider,
    ProviderReply,
    ProviderRequest,
    clients,
    provider_for,
)
from smarter.testing.openai_stub import OpenAIStub, text_reply

STREAMED_TEXT = "one two three four five six"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server
        assert server.errors == []


def ask() -> ProviderRequest:
    return ProviderRequest(messages=[Message.user("Hello?")], model="gpt-4o-mini", timeout=10)


def provider(stub: OpenAIStub, key: str) -> OpenAICompatibleProvider:
    made = provider_for("openai", api_key=key, base_url=stub.url)
    assert isinstance(made, OpenAICompatibleProvider)
    return made


def kept_session(stub: OpenAIStub, key: str) -> aiohttp.ClientSession:
    return clients.upstream_session(base_url=stub.url, api_key=key, guarded=False)


async def answer(chat: OpenAICompatibleProvider, mode: str) -> ProviderReply:
    if mode == "complete":
        return await chat.complete(ask())
    events = [event async for event in chat.stream(ask())]
    last = events[-1]
    assert isinstance(last, Completed)
    return last.reply


async def closed_within(session: aiohttp.ClientSession, seconds: float = 5) -> bool:
    """The close of a dropped session runs as a task of the loop: give it its turn."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not session.closed and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    return session.closed


# --- dropped from the cache -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_a_session_dropped_from_the_cache_while_idle_is_closed_and_the_others_kept(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(clients, "MAX_SESSIONS", 2)

    async def go() -> list[bool]:
        sessions = []
        for key in ("sk-first", "sk-second", "sk-third"):
            await answer(provider(stub, key), mode)
            sessions.append(kept_session(stub, key))
        await closed_within(sessions[0])
        return [session.closed for session in sessions]

    assert asyncio.run(go()) == [True, False, False]
    assert stub.wait_for(lambda: [request.outcome for request in stub.chat_requests] == ["completed"] * 3)


@pytest.mark.parametrize(
    ("mode", "reply"),
    [
        ("stream", text_reply(STREAMED_TEXT, chunk_delay=0.1)),  # dropped between two events
        ("stream", text_reply(STREAMED_TEXT, delay=0.4)),  # dropped before the answer starts
        ("complete", text_reply(STREAMED_TEXT, delay=0.4)),
    ],
    ids=["stream-midway", "stream-before-answer", "complete-before-answer"],
)
def test_a_session_dropped_while_it_answers_finishes_the_answer_and_is_closed_after(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, mode: str, reply: Any
) -> None:
    monkeypatch.setattr(clients, "MAX_SESSIONS", 1)
    stub.enqueue(reply)

    async def go() -> tuple[bool, ProviderReply, bool]:
        answering = asyncio.create_task(answer(provider(stub, "sk-busy"), mode))
        while not stub.chat_requests:
            await asyncio.sleep(0.01)
        busy = kept_session(stub, "sk-busy")
        await provider(stub, "sk-other").complete(ask())  # takes the only place in the cache
        open_while_answering = not answering.done() and not busy.closed
        whole = await answering
        return open_while_answering, whole, await closed_within(busy)

    open_while_answering, whole, closed_after = asyncio.run(go())

    assert open_while_answering
    assert whole.content == STREAMED_TEXT
    assert closed_after
    # The stub marks a reply completed once it has sent its end, which may come just after the client read it.
    assert stub.wait_for(lambda: [request.outcome for request in stub.chat_requests] == ["completed", "completed"])


def test_a_session_dropped_under_two_streams_is_closed_only_after_the_second_ends(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "MAX_SESSIONS", 1)
    stub.enqueue(text_reply(STREAMED_TEXT, chunk_delay=0.05), text_reply(STREAMED_TEXT, chunk_delay=0.2))

    async def go() -> list[bool]:
        shorter = asyncio.create_task(answer(provider(stub, "sk-busy"), "stream"))
        longer = asyncio.create_task(answer(provider(stub, "sk-busy"), "stream"))
        while len(stub.chat_requests) < 2:
            await asyncio.sleep(0.01)
        busy = kept_session(stub, "sk-busy")
        await provider(stub, "sk-other").complete(ask())
        await shorter
        after_the_first = busy.closed
        await longer
        return [after_the_first, await closed_within(busy)]

    assert asyncio.run(go()) == [False, True]
    assert stub.wait_for(lambda: [request.outcome for request in stub.chat_requests] == ["completed"] * 3)


# --- when the loop ends -----------------------------------------------------------------------------


def run_with_asyncio(work: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(work())  # type: ignore[arg-type]


def run_with_async_to_sync(work: Callable[[], Awaitable[Any]]) -> Any:
    # As a synchronous (WSGI) view calls a turn: a new event loop for the one call.
    return async_to_sync(work)()


def run_with_uvloop(work: Callable[[], Awaitable[Any]]) -> Any:
    # The event loop uvicorn runs the platform on in production.
    uvloop = pytest.importorskip("uvloop")
    return uvloop.run(work())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "runner",
    [run_with_asyncio, run_with_async_to_sync, run_with_uvloop],
    ids=["asyncio.run", "async_to_sync", "uvloop"],
)
@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_the_sessions_of_a_loop_that_ends_are_closed_and_nothing_warns(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture, runner: Callable[..., Any], mode: str
) -> None:
    keys = ("sk-acme", "sk-globex")

    async def work() -> list[aiohttp.ClientSession]:
        for key in keys:
            await answer(provider(stub, key), mode)
        return [kept_session(stub, key) for key in keys]

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, logger="asyncio"):
        warnings.simplefilter("always")
        sessions = runner(work)
        closed = [session.closed for session in sessions]
        # What an unclosed session says when it is collected: a ResourceWarning, and a call of
        # the loop's exception handler (logged by asyncio).
        del sessions
        gc.collect()

    assert closed == [True, True]
    assert [str(warning.message) for warning in caught if "Unclosed" in str(warning.message)] == []
    assert [record.getMessage() for record in caplog.records if "Unclosed" in record.getMessage()] == []


def test_a_loop_that_ends_while_a_stream_is_open_closes_its_session(stub: OpenAIStub) -> None:
    """A consumer that stops reading midway and never closes its stream: the loop's end does."""
    stub.enqueue(text_reply(STREAMED_TEXT, chunk_delay=0.05))

    async def work() -> aiohttp.ClientSession:
        events = provider(stub, "sk-acme").stream(ask())
        await anext(events)
        return kept_session(stub, "sk-acme")

    session = asyncio.run(work())

    assert session.closed
    assert stub.wait_for(lambda: stub.chat_requests[0].outcome == "disconnected")
