"""How `logs` writes a turn on one line, for the turns the offline model cannot produce live."""

from __future__ import annotations

from smarter_cli.output import excerpt, log_row


def test_a_failed_turn_shows_its_error_and_failed_tools() -> None:
    turn = {
        "at": "2026-11-21T23:29:54.882046+00:00",
        "sessionKey": "BJf0q44wasYFpI9GWijsH2XgDtoXKcsP",
        "turn": 3,
        "status": "error",
        "error": "The model provider timed out.",
        "prompt": "Which courses\n  are cheap?",
        "answer": "",
        "toolCalls": [
            {"plugin": "course_finder", "arguments": {}, "error": "the query failed", "ms": 3.1},
            {"plugin": "gobstopper_facts", "arguments": {}, "error": None, "ms": 0.1},
        ],
        "totalTokens": 0,
        "cost": 0.0001234,
    }

    assert log_row(turn, with_session=True) == [
        "2026-11-21 23:29:54",
        "BJf0q44wasYF",
        "3",
        "Which courses are cheap?",
        "error: The model provider timed out.",
        "course_finder (failed), gobstopper_facts",
        "0",
        "$0.000123",
    ]
    assert log_row(turn, with_session=False)[1] == "3"


def test_an_excerpt_is_one_line_cut_at_its_limit() -> None:
    assert excerpt("a\n\nb   c", 10) == "a b c"
    assert excerpt("According to the tool: yes", 14) == "According to…"
    assert excerpt(None, 5) == ""
