"""`smarter chat`, `logs` and the chat kinds end to end against the real server.

The server runs under ASGI (uvicorn, the `chat_server` fixture) as in production, with no LLM
configured, so chatbots answer with the built-in offline model: it calls the best-matching
tool, then answers by quoting the tool's result. Everything below is therefore deterministic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.apps.chat.providers.offline import FOOTNOTE
from tests.conftest import MANIFESTS, LiveServer, RunCli, cli_command, cli_environment

CHATBOT_KINDS = MANIFESTS / "chatbot_kinds"
PROMPT = "you> "
DIM = "\x1b[2m"
PRICE_QUESTION = "What is the gobstopper price?"
PRICE = "$1.00 a piece, 10OFF takes 10% off"
PRICE_ANSWER = f"According to gobstopper_facts: {PRICE}"
INVENTOR_QUESTION = "Who is the gobstopper inventor?"
INVENTOR_ANSWER = "According to gobstopper_facts: Willy Wonka"
# A timing in milliseconds, as `(12 ms)`: the one part of a tool line that is not fixed.
MS = r" \(\d+ ms\)"


@pytest.fixture
def candy_shop(as_chat_owner: RunCli) -> RunCli:
    """The chatbot of manifests/chatbot_kinds applied; the owner's `smarter` on the ASGI server."""
    applied = as_chat_owner("apply", "-f", str(CHATBOT_KINDS))
    assert applied.code == 0, applied.stderr
    return as_chat_owner


def stored_session(home: Path, server: LiveServer) -> str:
    sessions = yaml.safe_load((home / ".smarter" / "sessions.yaml").read_text())
    return str(sessions["sessions"][server.url]["candy_shop"])


def json_of(result: Any) -> Any:
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


# --- one prompt ----------------------------------------------------------------------------------


def test_one_prompt_calls_the_static_plugin_and_quotes_its_data(candy_shop: RunCli) -> None:
    result = candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)

    assert (result.code, result.stderr) == (0, "")
    call, tool_result, *answer = result.out_lines
    assert call == '→ gobstopper_facts({"inquiry_type": "price"})'
    assert re.fullmatch(re.escape(f"← gobstopper_facts: {PRICE}") + MS, tool_result), tool_result
    assert answer == [PRICE_ANSWER, "", FOOTNOTE]


def test_one_prompt_reads_the_sql_plugin_s_database(candy_shop: RunCli) -> None:
    result = candy_shop("chat", "candy_shop", "-p", "Which courses cost at most 100 dollars?")

    assert (result.code, result.stderr) == (0, "")
    call, tool_result, *answer = result.out_lines
    assert call == '→ course_finder({"max_cost": 100})'
    assert tool_result.startswith(
        '← course_finder: {"columns": ["title", "cost"], "rows": [{"title": "Fudge for beginners", "cost": 40}, '
    )
    assert answer == [
        "According to course_finder:",
        '- columns: ["title", "cost"]',
        '- rows: [{"title": "Fudge for beginners", "cost": 40}, {"title": "Toffee in a weekend", "cost": 90}]',
        "- row Count: 2",
        "- truncated: false",
        "",
        FOOTNOTE,
    ]


def test_one_prompt_continues_the_session_until_new(
    candy_shop: RunCli, cli_home: Path, chat_server: LiveServer
) -> None:
    first = candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)
    second = candy_shop("chat", "candy_shop", "-p", INVENTOR_QUESTION)
    fresh = candy_shop("chat", "candy_shop", "--new", "-p", INVENTOR_QUESTION)

    assert first.code == second.code == fresh.code == 0
    assert second.out_lines[-3:] == [INVENTOR_ANSWER, "", FOOTNOTE]
    new_session = stored_session(cli_home, chat_server)
    assert new_session != session
    chats = json_of(candy_shop("get", "chats", "-o", "json"))
    assert {chat["name"]: (chat["chatbot"], chat["channel"], chat["turns"]) for chat in chats} == {
        session: ("candy_shop", "api", 2),
        new_session: ("candy_shop", "api", 1),
    }
    assert len(chats) == 2


def test_an_unknown_chatbot_is_refused(candy_shop: RunCli) -> None:
    result = candy_shop("chat", "no_such_bot", "-p", "hello")

    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error: Chatbot 'no_such_bot' was not found in your account.\n"


def test_a_session_of_another_account_is_not_continued(
    candy_shop: RunCli, cli_home: Path, chat_server: LiveServer, run_cli: RunCli, tmp_path: Path
) -> None:
    """The outsider's client holds Acme's session key: the server refuses it, a new one starts."""
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    acme_session = stored_session(cli_home, chat_server)
    outsider = {"SMARTER_BASE_URL": chat_server.url, "SMARTER_API_KEY": chat_server.outsider.key}
    applied = run_cli("apply", "-f", str(CHATBOT_KINDS), **outsider)
    assert applied.code == 0, applied.stderr

    result = run_cli("chat", "candy_shop", "-p", INVENTOR_QUESTION, **outsider)

    assert result.code == 0
    assert result.stderr == "(the previous session was gone; this is a new one)\n"
    assert result.out_lines[-3:] == [INVENTOR_ANSWER, "", FOOTNOTE]
    assert stored_session(cli_home, chat_server) != acme_session
    acme_turns = json_of(candy_shop("logs", "chat", acme_session, "-o", "json"))["turns"]
    assert [turn["prompt"] for turn in acme_turns] == [PRICE_QUESTION]


# --- a conversation on a terminal ----------------------------------------------------------------


class Terminal:
    """`smarter chat candy_shop` on a pseudo-terminal, as a person runs it."""

    def __init__(self, pexpect: Any, home: Path, server: LiveServer) -> None:
        self.pexpect = pexpect
        environment = cli_environment(
            home, SMARTER_BASE_URL=server.url, SMARTER_API_KEY=server.owner.key, TERM="xterm-256color"
        )
        command, *prefix = cli_command()
        self.child = pexpect.spawn(
            command,
            [*prefix, "chat", "candy_shop"],
            env=environment,
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 200),
        )

        self.at_prompt = False

    def wait_for_prompt(self) -> None:
        """Until `you> ` is shown: the turn before it is over and its session stored."""
        if not self.at_prompt:
            self.child.expect_exact(PROMPT)
            self.at_prompt = True

    def say(self, text: str) -> None:
        self.wait_for_prompt()
        self.child.sendline(text)
        self.at_prompt = False

    def sees(self, text: str) -> str:
        self.child.expect_exact(text)
        return str(self.child.before)

    def exit_code(self) -> int:
        self.child.expect(self.pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)


@pytest.fixture
def terminals(pexpect: Any) -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.child.close(force=True)


def test_a_conversation_streams_tool_calls_and_continues_across_runs(
    candy_shop: RunCli, terminals: list[Terminal], pexpect: Any, cli_home: Path, chat_server: LiveServer
) -> None:
    first = Terminal(pexpect, cli_home, chat_server)
    terminals.append(first)
    first.sees("Chatting with candy_shop, new session. /new starts a new session, /exit or Ctrl-D quits.")
    first.say(PRICE_QUESTION)
    first.sees(f'{DIM}→ gobstopper_facts({{"inquiry_type": "price"}})')
    first.sees(f"{DIM}← gobstopper_facts: {PRICE} (")
    first.sees(f"{PRICE_ANSWER}\r\n\r\n{FOOTNOTE}\r\n")
    first.wait_for_prompt()
    priced_session = stored_session(cli_home, chat_server)
    first.say("/new")
    first.sees("Started a new session.")
    first.say(INVENTOR_QUESTION)
    first.sees(f'{DIM}→ gobstopper_facts({{"inquiry_type": "inventor"}})')
    first.sees(f"{INVENTOR_ANSWER}\r\n")
    first.say("/exit")
    assert first.exit_code() == 0
    inventor_session = stored_session(cli_home, chat_server)
    assert inventor_session != priced_session

    second = Terminal(pexpect, cli_home, chat_server)
    terminals.append(second)
    second.sees(f"Chatting with candy_shop, continuing session {inventor_session[:12]}.")
    second.say(PRICE_QUESTION)
    second.sees(f"{PRICE_ANSWER}\r\n")
    second.wait_for_prompt()
    second.child.sendeof()  # Ctrl-D
    assert second.exit_code() == 0

    assert stored_session(cli_home, chat_server) == inventor_session
    priced = json_of(candy_shop("logs", "chat", priced_session, "-o", "json"))
    continued = json_of(candy_shop("logs", "chat", inventor_session, "-o", "json"))
    assert [turn["prompt"] for turn in priced["turns"]] == [PRICE_QUESTION]
    # Newest first, as the server keeps them; the second run's turn is the session's second.
    assert [(turn["turn"], turn["prompt"]) for turn in continued["turns"]] == [
        (2, PRICE_QUESTION),
        (1, INVENTOR_QUESTION),
    ]
    assert continued["turns"][1]["answer"] == f"{INVENTOR_ANSWER}\n\n{FOOTNOTE}"


# --- logs ------------------------------------------------------------------------------------------


def log_cells(line: str) -> list[str]:
    """A logs table line cut into its cells (they are separated by at least two spaces)."""
    return re.split(r" {2,}", line.strip())


def test_logs_of_a_chatbot_prints_one_line_per_turn_oldest_first(
    candy_shop: RunCli, cli_home: Path, chat_server: LiveServer
) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    first_session = stored_session(cli_home, chat_server)
    candy_shop("chat", "candy_shop", "-p", INVENTOR_QUESTION)
    candy_shop("chat", "candy_shop", "--new", "-p", "Which courses cost at most 100 dollars?")
    second_session = stored_session(cli_home, chat_server)

    table = candy_shop("logs", "chatbot", "candy_shop", COLUMNS="250")
    data = json_of(candy_shop("logs", "chatbots", "candy_shop", "-o", "json"))

    assert (table.code, table.stderr) == (0, "")
    header, rule, *rows = table.out_lines
    assert log_cells(header) == ["TIME", "SESSION", "TURN", "PROMPT", "ANSWER", "TOOLS", "TOKENS", "COST"]
    assert set(rule) == {"─"}
    turns = list(reversed(data["turns"]))  # the server sends the newest first
    assert [turn["prompt"] for turn in turns] == [
        PRICE_QUESTION,
        INVENTOR_QUESTION,
        "Which courses cost at most 100 dollars?",
    ]
    assert [log_cells(row) for row in rows] == [
        [
            turn["at"][:19].replace("T", " "),
            session[:12],
            str(turn["turn"]),
            turn["prompt"],
            answer,
            tools,
            str(turn["totalTokens"]),
            "$0.000000",
        ]
        for turn, session, answer, tools in [
            (
                turns[0],
                first_session,
                "According to gobstopper_facts: $1.00 a piece, 10OFF takes 10% off (Answered by…",
                "gobstopper_facts",
            ),
            (
                turns[1],
                first_session,
                "According to gobstopper_facts: Willy Wonka (Answered by smarter-offline, Smarte…",
                "gobstopper_facts",
            ),
            (
                turns[2],
                second_session,
                'According to course_finder: - columns: ["title", "cost"] - rows: [{"title": "Fu…',
                "course_finder",
            ),
        ]
    ]
    assert [turn["turn"] for turn in turns] == [1, 2, 1]
    assert all(turn["totalTokens"] > 0 and turn["cost"] == 0 for turn in turns)


def test_logs_of_a_chat_leaves_out_the_session_and_cuts_lines_to_the_terminal(
    candy_shop: RunCli, cli_home: Path, chat_server: LiveServer
) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)

    wide = candy_shop("logs", "chat", session, COLUMNS="250")
    narrow = candy_shop("logs", "chat", session, COLUMNS="100")
    as_yaml = candy_shop("logs", "chat", session, "-o", "yaml")

    assert wide.code == narrow.code == as_yaml.code == 0
    assert log_cells(wide.out_lines[0]) == ["TIME", "TURN", "PROMPT", "ANSWER", "TOOLS", "TOKENS", "COST"]
    assert log_cells(wide.out_lines[2])[1:4] == [
        "1",
        PRICE_QUESTION,
        "According to gobstopper_facts: $1.00 a piece, 10OFF takes 10% off (Answered by…",
    ]
    assert len(narrow.out_lines) == 3
    assert all(len(line) <= 100 for line in narrow.out_lines)
    assert log_cells(narrow.out_lines[2])[-1] == "$0.000000"
    document = yaml.safe_load(as_yaml.stdout)
    assert (document["chat"], document["chatbot"]) == (session, "candy_shop")
    assert document["turns"][0]["toolCalls"][0]["arguments"] == {"inquiry_type": "price"}


def test_logs_of_an_unknown_chat_or_another_account_s_is_not_found(
    candy_shop: RunCli, run_cli: RunCli, cli_home: Path, chat_server: LiveServer
) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)

    unknown = candy_shop("logs", "chat", "no_such_session")
    outsider = run_cli(
        "logs", "chat", session, SMARTER_BASE_URL=chat_server.url, SMARTER_API_KEY=chat_server.outsider.key
    )

    assert (unknown.code, unknown.stderr) == (1, "Error: Chat 'no_such_session' was not found in your account.\n")
    assert (outsider.code, outsider.stderr) == (1, f"Error: Chat {session!r} was not found in your account.\n")


def test_logs_of_a_chatbot_without_turns_says_so(candy_shop: RunCli) -> None:
    result = candy_shop("logs", "chatbot", "candy_shop")

    assert (result.code, result.stdout, result.stderr) == (0, "", "No turns found.\n")


# --- the read-only chat kinds ------------------------------------------------------------------------


def test_get_chats_and_chathistory(candy_shop: RunCli, cli_home: Path, chat_server: LiveServer) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)

    chats_table = candy_shop("get", "chats")
    history = json_of(candy_shop("get", "chathistory", session, "-o", "json"))
    history_yaml = candy_shop("get", "chathistory", "-o", "yaml")
    history_table = candy_shop("get", "chathistory", session)

    assert chats_table.code == 0
    header, _, row = chats_table.out_lines
    assert header.split() == ["NAME", "CHATBOT", "CHANNEL", "TURNS", "CREATED", "AT"]
    assert row.split()[:4] == [session, "candy_shop", "api", "1"]
    # Newest first: the answer, the tool's result, the assistant's tool call (no text), the prompt.
    assert history == [
        {
            "name": session,
            "chatbot": "candy_shop",
            "sequence": 4,
            "role": "assistant",
            "content": f"{PRICE_ANSWER}\n\n{FOOTNOTE}",
        },
        {"name": session, "chatbot": "candy_shop", "sequence": 3, "role": "tool", "content": json.dumps(PRICE)},
        {"name": session, "chatbot": "candy_shop", "sequence": 2, "role": "assistant", "content": ""},
        {"name": session, "chatbot": "candy_shop", "sequence": 1, "role": "user", "content": PRICE_QUESTION},
    ]
    assert yaml.safe_load(history_yaml.stdout) == history
    assert history_table.code == 0
    assert history_table.out_lines[0].split() == ["NAME", "CHATBOT", "SEQUENCE", "ROLE", "CONTENT"]
    assert history_table.out_lines[-1].split() == [session, "candy_shop", "1", "user", *PRICE_QUESTION.split()]


def test_get_chattoolcalls_and_chatpluginusages(candy_shop: RunCli, cli_home: Path, chat_server: LiveServer) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)

    calls = json_of(candy_shop("get", "chattoolcalls", "-o", "json"))
    usages = json_of(candy_shop("get", "chatpluginusages", session, "-o", "json"))

    assert calls == [
        {
            "name": session,
            "plugin": "gobstopper_facts",
            "arguments": {"inquiry_type": "price"},
            "result": PRICE,
            "error": None,
            "ms": calls[0]["ms"],
        }
    ]
    assert isinstance(calls[0]["ms"], float) and calls[0]["ms"] >= 0
    # `always`: offered on every turn; the SQL plugin's search terms are not in the question.
    assert sorted((usage["plugin"], usage["selected"], usage["rule"]) for usage in usages) == [
        ("course_finder", False, "search_terms"),
        ("gobstopper_facts", True, "always"),
    ]


def test_chat_kinds_are_read_only(candy_shop: RunCli, cli_home: Path, chat_server: LiveServer) -> None:
    candy_shop("chat", "candy_shop", "-p", PRICE_QUESTION)
    session = stored_session(cli_home, chat_server)

    history = candy_shop("delete", "chathistory", session)
    chat = candy_shop("delete", "chat", session)
    gone = candy_shop("get", "chats")

    assert (history.code, history.stdout) == (1, "")
    assert history.err_lines == [
        f"Error: ChatHistory entries are deleted with their session: delete the Chat {session!r}.",
        "  kind: delete the Chat instead",
    ]
    assert (chat.code, chat.stdout, chat.stderr) == (0, f"Chat/{session} deleted\n", "")
    assert (gone.code, gone.stdout, gone.stderr) == (0, "", "No Chat resources found.\n")
