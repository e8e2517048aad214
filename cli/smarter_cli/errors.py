"""The ways a command can fail, each with the exit code scripts rely on.

0 ok, 1 the server refused (any 4xx or 5xx), 2 a usage error (bad flags, a missing file, no API
key configured), 3 the server cannot be reached. Every failure carries the text to show, so the
entry point prints it and exits without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


@dataclass(frozen=True)
class FieldProblem:
    """One entry of the error envelope's `errors`: where (`spec.config.value`) and what."""

    loc: str
    msg: str


class CliFailure(Exception):
    exit_code = EXIT_REFUSED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        return [f"Error: {self.message}"]


class UsageFailure(CliFailure):
    exit_code = EXIT_USAGE


class Unreachable(CliFailure):
    exit_code = EXIT_UNREACHABLE


class ServerRefused(CliFailure):
    """A non-2xx answer, read from the error envelope of API.md when the body is one."""

    exit_code = EXIT_REFUSED

    def __init__(
        self,
        description: str,
        *,
        status: int,
        problems: list[FieldProblem] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.problems = problems or []
        self.context = context or {}

    def lines(self) -> list[str]:
        return [f"Error: {self.message}", *field_lines(self.problems)]


def field_lines(problems: list[FieldProblem]) -> list[str]:
    return [f"  {problem.loc}: {problem.msg}" for problem in problems]


@dataclass
class Envelope:
    """A success body: `data` plus the canonical kind the server resolved (`thing`)."""

    data: Any
    thing: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def refusal_from_body(status: int, reason: str, body: Any, text: str) -> ServerRefused:
    """Build the refusal from the error envelope, or from whatever a proxy put in its place."""
    if isinstance(body, dict) and isinstance(body.get("description"), str):
        problems = [
            FieldProblem(str(item.get("loc", "(root)")), str(item.get("msg", "")))
            for item in body.get("errors") or []
            if isinstance(item, dict)
        ]
        context = body.get("context") if isinstance(body.get("context"), dict) else {}
        return ServerRefused(body["description"], status=status, problems=problems, context=context)
    # Not our envelope (a proxy's HTML page, an empty body): say what we know, briefly.
    # An HTML error page says nothing a person can act on in a terminal: only plain text is kept.
    snippet = "" if text.lstrip().startswith("<") else " ".join(text.split())[:200]
    description = f"The server answered {status} {reason}".rstrip() + "."
    if snippet:
        description += f" {snippet}"
    return ServerRefused(description, status=status)
