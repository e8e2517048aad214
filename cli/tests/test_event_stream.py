"""How `smarter chat` reads the server's event stream (text/event-stream, read with httpx-sse).

The reply must come out the same however the bytes of the stream arrive: split anywhere (inside
a line, between the CR and LF of a line ending, inside a UTF-8 character), with any of the three
line endings the format allows, with comments, ids, retry fields, events of unknown types and
data spread over several lines. A stream that stops inside an event is a cut reply, never a
finished one.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunCli
from tests.standin import API_KEY, StandInServer

LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
# Bytes per piece: one (every line ending and character split), a few, and the whole stream.
SPLITS = [1, 3, 7, None]

WEATHER_LINES = [
    '→ weather({"city": "Paris"})',
    '← weather: {"celsius": 21} (12 ms)',
    "You said: weather (turn 1 of session-1)",
]
# Two- and three-byte UTF-8 characters: a one-byte split cuts through them.
CAFE = "café ☕ crème"
CAFE_LINES = [f"You said: {CAFE} (turn 1 of session-1)"]


def chat(run_cli: RunCli, standin: StandInServer, prompt: str) -> tuple[int, list[str], str]:
    result = run_cli("chat", "support", "-p", prompt, SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY)
    return result.code, result.out_lines, result.stderr


@pytest.mark.parametrize("ending", list(LINE_ENDINGS.values()), ids=list(LINE_ENDINGS))
@pytest.mark.parametrize("split", SPLITS, ids=lambda size: f"split-{size or 'none'}")
@pytest.mark.parametrize(("prompt", "lines"), [("weather", WEATHER_LINES), (CAFE, CAFE_LINES)], ids=["tools", "utf8"])
def test_the_reply_is_the_same_however_the_stream_is_split_and_its_lines_end(
    run_cli: RunCli, standin: StandInServer, ending: str, split: int | None, prompt: str, lines: list[str]
) -> None:
    standin.line_ending = ending
    standin.split_size = split

    assert chat(run_cli, standin, prompt) == (0, lines, "")


@pytest.mark.parametrize("split", SPLITS, ids=lambda size: f"split-{size or 'none'}")
def test_comments_ids_retries_unknown_events_and_multiline_data_change_nothing(
    run_cli: RunCli, standin: StandInServer, split: int | None
) -> None:
    standin.chatter = True
    standin.line_ending = "\r\n"
    standin.split_size = split

    assert chat(run_cli, standin, "weather") == (0, WEATHER_LINES, "")


def test_a_stream_that_stops_inside_its_last_event_is_a_cut_reply(run_cli: RunCli, standin: StandInServer) -> None:
    code, lines, error = chat(run_cli, standin, "unterminated")

    assert (code, lines) == (3, ["You said: unterminated (turn 1 of session-1)"])
    assert error == f"Error: The server at {standin.url} closed the connection before the reply was complete.\n"
