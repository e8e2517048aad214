"""`smarter chat` against a stand-in server speaking the documented SSE events.

The stand-in produces on demand what the real server cannot be made to: a reply held back
between two tokens, an `error` event mid-reply, a connection cut mid-reply, a server that
ignores `stream`. The end-to-end conversation with the real server is in test_chat_live.py.
The interactive tests drive the real program over a pseudo-terminal, as a person would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunCli, cli_command, cli_environment
from tests.standin import API_KEY, StandInServer

PROMPT = "you> "
DIM = "\x1b[2m"


def sessions_file(home: Path) -> dict[str, object]:
    return yaml.safe_load((home / ".smarter" / "sessions.yaml").read_text())


@pytest.fixture
def chat_env(standin: StandInServer) -> dict[str, str]:
    return {"SMARTER_BASE_URL": standin.url, "SMARTER_API_KEY": API_KEY}


class Terminal:
    """`smarter chat …` on a pseudo-terminal."""

    def __init__(self, pexpect: Any, home: Path, standin: StandInServer, *arguments: str) -> None:
        self.pexpect = pexpect
        environment = cli_environment(
            home, SMARTER_BASE_URL=standin.url, SMARTER_API_KEY=API_KEY, TERM="xterm-256color"
        )
        command, *prefix = cli_command()
        self.child = pexpect.spawn(
            command,
            [*prefix, "chat", *arguments],
            env=environment,
            encoding="utf-8",
            timeout=15,
            dimensions=(40, 120),
        )

    def say(self, text: str) -> None:
        self.child.expect_exact(PROMPT)
        self.child.sendline(text)

    def sees(self, text: str, timeout: float = 15) -> str:
        self.child.expect_exact(text, timeout=timeout)
        return str(self.child.before)

    def exit_code(self) -> int:
        self.child.expect(self.pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)


@pytest.fixture
def terminals(cli_home: Path, standin: StandInServer, pexpect: Any) -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.child.close(force=True)


def open_chat(terminals: list[Terminal], home: Path, standin: StandInServer, *arguments: str) -> Terminal:
    terminal = Terminal(pytest.importorskip("pexpect"), home, standin, *arguments)
    terminals.append(terminal)
    return terminal


def test_a_conversation_continues_across_runs_until_new(
    terminals: list[Terminal], cli_home: Path, standin: StandInServer
) -> None:
    first = open_chat(terminals, cli_home, standin, "support")
    first.sees("Chatting with support, new session. /new starts a new session, /exit or Ctrl-D quits.")
    first.say("hello")
    first.sees("You said: hello (turn 1 of session-1)")
    first.say("/exit")
    assert first.exit_code() == 0
    assert sessions_file(cli_home) == {"sessions": {standin.url: {"support": "session-1"}}}

    second = open_chat(terminals, cli_home, standin, "support")
    second.sees("Chatting with support, continuing session session-1.")
    second.say("again")
    second.sees("You said: again (turn 2 of session-1)")
    second.say("/new")
    second.sees("Started a new session.")
    second.say("fresh")
    second.sees("You said: fresh (turn 1 of session-2)")
    second.child.expect_exact(PROMPT)
    second.child.sendeof()  # Ctrl-D
    assert second.exit_code() == 0

    assert sessions_file(cli_home) == {"sessions": {standin.url: {"support": "session-2"}}}
    assert standin.sessions == {"session-1": ["hello", "again"], "session-2": ["fresh"]}


def test_tokens_are_shown_as_they_arrive(
    terminals: list[Terminal], cli_home: Path, standin: StandInServer, pexpect: Any
) -> None:
    chat = open_chat(terminals, cli_home, standin, "support")
    chat.say("slow")
    chat.sees("Hel")

    # The server holds the rest of the reply back: what is on screen came from the first token.
    with pytest.raises(pexpect.TIMEOUT):
        chat.child.expect_exact("lo there", timeout=1)
    standin.release.set()

    chat.sees("lo there")
    chat.say("/exit")
    assert chat.exit_code() == 0


def test_tool_calls_are_shown_dimmed(terminals: list[Terminal], cli_home: Path, standin: StandInServer) -> None:
    chat = open_chat(terminals, cli_home, standin, "support")
    chat.say("weather")

    chat.sees(f'{DIM}→ weather({{"city": "Paris"}})')
    chat.sees(f'{DIM}← weather: {{"celsius": 21}} (12 ms)')
    chat.sees("You said: weather (turn 1 of session-1)")
    chat.say("/exit")
    assert chat.exit_code() == 0


def test_an_error_event_is_reported_and_the_conversation_goes_on(
    terminals: list[Terminal], cli_home: Path, standin: StandInServer
) -> None:
    chat = open_chat(terminals, cli_home, standin, "support")
    chat.say("hello")
    chat.sees("You said: hello (turn 1 of session-1)")
    chat.say("fail")

    chat.sees("Let me \r\nError: The model provider failed; try again.\r\n  provider: timed out\r\n")
    chat.say("again")
    chat.sees("You said: again (turn 3 of session-1)")
    chat.say("/exit")
    assert chat.exit_code() == 0


def test_unknown_slash_commands_are_explained(
    terminals: list[Terminal], cli_home: Path, standin: StandInServer
) -> None:
    chat = open_chat(terminals, cli_home, standin, "support")
    chat.say("/frobnicate")

    chat.sees("Unknown command /frobnicate. /new starts a new session, /exit or Ctrl-D quits.")
    chat.say("/exit")
    assert chat.exit_code() == 0
    assert standin.requests == []


# --- one turn: -p ---------------------------------------------------------------------------------


def test_one_prompt_prints_the_reply_and_keeps_the_session(
    run_cli: RunCli, cli_home: Path, standin: StandInServer, chat_env: dict[str, str]
) -> None:
    first = run_cli("chat", "support", "-p", "hello", **chat_env)
    second = run_cli("chat", "support", "--prompt", "again", **chat_env)
    fresh = run_cli("chat", "support", "--new", "-p", "anew", **chat_env)

    assert (first.code, first.stdout, first.stderr) == (0, "You said: hello (turn 1 of session-1)\n", "")
    assert (second.code, second.stdout) == (0, "You said: again (turn 2 of session-1)\n")
    assert (fresh.code, fresh.stdout) == (0, "You said: anew (turn 1 of session-2)\n")
    assert sessions_file(cli_home) == {"sessions": {standin.url: {"support": "session-2"}}}
    sent = [request["body"] for request in standin.requests]
    assert sent[0] == b'{"prompt":"hello","stream":true}'
    assert sent[1] == b'{"prompt":"again","stream":true,"session_key":"session-1"}'
    assert standin.requests[0]["headers"]["Accept"] == "text/event-stream"


def test_tool_calls_of_one_prompt_are_on_their_own_lines(run_cli: RunCli, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "support", "-p", "weather", **chat_env)

    assert result.code == 0
    assert result.out_lines == [
        '→ weather({"city": "Paris"})',
        '← weather: {"celsius": 21} (12 ms)',
        "You said: weather (turn 1 of session-1)",
    ]


def test_a_built_in_function_is_shown_by_its_name(run_cli: RunCli, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "support", "-p", "calculate", **chat_env)

    assert result.code == 0
    assert result.out_lines == [
        '→ calculator({"expression": "6*7"})',
        "← calculator: 42 (1 ms)",
        "You said: calculate (turn 1 of session-1)",
    ]


def test_an_error_event_of_one_prompt_exits_1(run_cli: RunCli, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "support", "-p", "fail", **chat_env)

    assert (result.code, result.stdout) == (1, "Let me \n")
    assert result.err_lines == ["Error: The model provider failed; try again.", "  provider: timed out"]


def test_a_reply_cut_off_by_the_server_exits_3(
    run_cli: RunCli, standin: StandInServer, chat_env: dict[str, str]
) -> None:
    result = run_cli("chat", "support", "-p", "drop", **chat_env)

    assert (result.code, result.stdout) == (3, "Let me \n")
    assert result.stderr == (
        f"Error: The server at {standin.url} closed the connection before the reply was complete.\n"
    )


def test_a_session_the_server_forgot_is_replaced(
    run_cli: RunCli, cli_home: Path, standin: StandInServer, chat_env: dict[str, str]
) -> None:
    (cli_home / ".smarter").mkdir()
    (cli_home / ".smarter" / "sessions.yaml").write_text(
        yaml.safe_dump({"sessions": {standin.url: {"support": "forgotten"}}})
    )

    result = run_cli("chat", "support", "-p", "hello", **chat_env)

    assert (result.code, result.stdout) == (0, "You said: hello (turn 1 of session-1)\n")
    assert result.stderr == "(the previous session was gone; this is a new one)\n"
    assert sessions_file(cli_home) == {"sessions": {standin.url: {"support": "session-1"}}}


def test_an_unknown_chatbot_exits_1(run_cli: RunCli, standin: StandInServer, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "nope", "-p", "hello", **chat_env)

    assert (result.code, result.stderr) == (1, "Error: Chatbot 'nope' was not found in your account.\n")
    assert len(standin.requests) == 1


def test_a_server_that_does_not_stream_is_shown_whole(
    run_cli: RunCli, standin: StandInServer, chat_env: dict[str, str]
) -> None:
    standin.stream_supported = False

    result = run_cli("chat", "support", "-p", "weather", **chat_env)

    assert result.code == 0
    assert result.out_lines == [
        '→ weather({"city": "Paris"})',
        '← weather: {"celsius": 21} (12 ms)',
        "You said: weather (turn 1 of session-1)",
    ]


def test_chat_with_an_unreachable_server_exits_3(run_cli: RunCli, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"

    result = run_cli("chat", "support", "-p", "hi", SMARTER_BASE_URL=url, SMARTER_API_KEY=API_KEY)

    assert (result.code, result.stderr) == (
        3,
        f"Error: Cannot reach the server at {url}: Connection refused.\n",
    )


def test_ctrl_c_stops_a_reply_and_keeps_the_conversation(
    terminals: list[Terminal], cli_home: Path, standin: StandInServer
) -> None:
    chat = open_chat(terminals, cli_home, standin, "support")
    chat.say("hello")
    chat.sees("You said: hello (turn 1 of session-1)")
    chat.say("slow")
    chat.sees("Hel")

    chat.child.sendintr()

    chat.sees("(reply interrupted)")
    chat.say("again")
    chat.sees("You said: again (turn 3 of session-1)")
    chat.say("/exit")
    assert chat.exit_code() == 0


def test_piped_lines_are_prompts_and_only_replies_are_printed(run_cli: RunCli, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "support", input="hello\n\n/new\nagain\n", **chat_env)

    assert (result.code, result.stderr) == (0, "")
    assert result.out_lines == [
        "You said: hello (turn 1 of session-1)",
        "Started a new session.",
        "You said: again (turn 1 of session-2)",
    ]


def test_piped_prompts_stop_at_an_error_and_exit_1_with_it_on_stderr(run_cli: RunCli, chat_env: dict[str, str]) -> None:
    result = run_cli("chat", "support", input="hello\nfail\nagain\n", **chat_env)

    assert result.code == 1
    assert result.out_lines == ["You said: hello (turn 1 of session-1)", "Let me "]
    assert result.err_lines == ["Error: The model provider failed; try again.", "  provider: timed out"]
