"""The text/event-stream parser: events come out whole however the bytes were split."""

from __future__ import annotations

import pytest

from smarter.cli.chat import EventStreamParser, ServerEvent, parse_events

STREAM = (
    ": a comment the server sends to keep the connection open\n"
    "\n"
    "event: token\n"
    'data: {"text": "Hel"}\n'
    "\n"
    "event: tool_call\r\n"
    'data: {"plugin": "weather",\r\n'
    'data:  "arguments": {}}\r\n'
    "\r\n"
    "event: token\r"
    "data:no space after the colon\r"
    "\r"
    "data: default event type\n"
    "id: 7\n"
    "\n"
    "event: done\n"
    'data: {"session_key": "abc"}\n'
    "\n"
)
EXPECTED = [
    ServerEvent("token", '{"text": "Hel"}'),
    ServerEvent("tool_call", '{"plugin": "weather",\n "arguments": {}}'),
    ServerEvent("token", "no space after the colon"),
    ServerEvent("message", "default event type", "7"),
    ServerEvent("done", '{"session_key": "abc"}', "7"),
]


def test_a_whole_stream_gives_its_events() -> None:
    assert list(parse_events([STREAM])) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11, 64])
def test_chunks_split_anywhere_give_the_same_events(size: int) -> None:
    chunks = [STREAM[start : start + size] for start in range(0, len(STREAM), size)]

    assert list(parse_events(chunks)) == EXPECTED


def test_a_crlf_split_between_two_chunks_is_one_line_ending() -> None:
    parser = EventStreamParser()

    first = parser.feed("event: token\r\ndata: a\r")
    second = parser.feed("\n\r\n")

    assert first == []
    assert second == [ServerEvent("token", "a")]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert list(parse_events(["event: token\n\nevent: done\ndata: {}\n\n"])) == [ServerEvent("done", "{}")]


def test_the_last_event_counts_even_without_a_blank_line() -> None:
    assert list(parse_events(['event: done\ndata: {"a": 1}'])) == [ServerEvent("done", '{"a": 1}')]


def test_event_data_is_json_or_text() -> None:
    assert ServerEvent("token", '{"text": "hi"}').json() == {"text": "hi"}
    assert ServerEvent("token", "plain").json() == {"text": "plain"}
    assert ServerEvent("done", "").json() == {}
