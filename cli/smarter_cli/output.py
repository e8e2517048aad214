"""How results reach the terminal: tables that fit its width, or exact JSON and YAML.

JSON and YAML are written as plain text, never through rich: rich wraps long lines to the
terminal width, which would corrupt a document that a script parses.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from smarter_cli.manifests import dump_yaml


def console() -> Console:
    """Standard output through rich. Made for each use, so that the width, the colours and the
    stream are those of this moment (`COLUMNS`, `NO_COLOR`, a redirected `sys.stdout`)."""
    return Console(highlight=False, soft_wrap=False)


def error_console() -> Console:
    """Standard error through rich; see `console`."""
    return Console(stderr=True, highlight=False, soft_wrap=False)


def write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def write_error(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def as_yaml(data: Any) -> str:
    return dump_yaml(data)


def print_document(data: Any, output_format: str) -> None:
    write(as_json(data) if output_format == "json" else as_yaml(data))


def heading(name: str) -> str:
    """`lastUsedAt` → `LAST USED AT`, as kubectl titles its columns."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").upper()


def cell(value: Any, column_type: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column_type == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def print_table(titles: list[dict[str, Any]], items: list[dict[str, Any]], *, thing: str = "") -> None:
    if not items:
        error_console().print(f"No {thing or 'resources'} found.", markup=False)
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", expand=False)
    columns = [(str(title.get("name", "")), str(title.get("type", "string"))) for title in titles]
    if not columns:
        columns = [(key, "string") for key in items[0]]
    for name, _ in columns:
        # The name identifies the row: it is never cut, the other columns fold to fit.
        table.add_column(Text(heading(name)), no_wrap=name == "name", overflow="fold")
    for item in items:
        # Text, not str: a value holding `[bold]` must print as written, not as rich markup.
        table.add_row(*(Text(cell(item.get(name), column_type)) for name, column_type in columns))
    # Rendered first, then written without the padding rich adds up to the table's width, so
    # lines end where their text does (and diff and copy-paste stay clean).
    out = console()
    with out.capture() as captured:
        out.print(table)
    write("\n".join(line.rstrip() for line in captured.get().rstrip("\n").split("\n")))


# --- logs: one line per turn -------------------------------------------------------------------

PROMPT_EXCERPT = 60
ANSWER_EXCERPT = 80


def excerpt(text: Any, limit: int) -> str:
    """`text` on one line (runs of whitespace, newlines included, become one space), cut to `limit`."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def log_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value or "")


def log_cost(value: Any) -> str:
    return f"${value:.6f}" if isinstance(value, int | float) else ""


def log_tools(calls: Any) -> str:
    names = []
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict):
            name = str(call.get("plugin") or call.get("tool") or "tool")
            names.append(f"{name} (failed)" if call.get("error") else name)
    return ", ".join(names)


def log_row(turn: dict[str, Any], *, with_session: bool) -> list[str]:
    answer = turn.get("answer")
    if turn.get("error"):
        answer = f"error: {turn['error']}"
    row = [log_time(turn.get("at"))]
    if with_session:
        row.append(str(turn.get("sessionKey") or "")[:12])
    tokens = turn.get("totalTokens")
    row += [
        str(turn.get("turn") if turn.get("turn") is not None else ""),
        excerpt(turn.get("prompt"), PROMPT_EXCERPT),
        excerpt(answer, ANSWER_EXCERPT),
        log_tools(turn.get("toolCalls")),
        str(tokens) if tokens is not None else "",
        log_cost(turn.get("cost")),
    ]
    return row


LOG_GAP = "  "
RIGHT_ALIGNED = ("TURN", "TOKENS", "COST")
SHARED = ("PROMPT", "ANSWER")  # the columns that give up width when the terminal is narrow
MIN_SHARED = 12


def print_turns(turns: list[dict[str, Any]], *, with_session: bool) -> None:
    """The turns oldest first, as a log reads, each on exactly one line.

    Time, session, turn, tools, tokens and cost are never cut; the prompt and the answer
    excerpt share what is left of the terminal's width (`COLUMNS` when not a terminal).
    """
    if not turns:
        error_console().print("No turns found.", markup=False)
        return
    headings = ["TIME", *(["SESSION"] if with_session else []), "TURN", "PROMPT", "ANSWER", "TOOLS", "TOKENS", "COST"]
    ordered = sorted(turns, key=lambda turn: (str(turn.get("at") or ""), turn.get("turn") or 0))
    rows = [log_row(turn, with_session=with_session) for turn in ordered]
    widths = [max(len(heading), *(len(row[index]) for row in rows)) for index, heading in enumerate(headings)]
    prompt, answer = headings.index("PROMPT"), headings.index("ANSWER")
    fixed = sum(width for index, width in enumerate(widths) if index not in (prompt, answer))
    available = console().width - fixed - len(LOG_GAP) * (len(headings) - 1)
    if widths[prompt] + widths[answer] > available:
        widths[prompt] = max(MIN_SHARED, min(widths[prompt], available // 3))
        widths[answer] = max(MIN_SHARED, min(widths[answer], available - widths[prompt]))
    lines = []
    for cells in [headings, *rows]:
        shown = []
        for index, (heading, text) in enumerate(zip(headings, cells, strict=True)):
            if heading in SHARED:
                text = excerpt(text, widths[index])
            shown.append(text.rjust(widths[index]) if heading in RIGHT_ALIGNED else text.ljust(widths[index]))
        lines.append(LOG_GAP.join(shown).rstrip())
    lines.insert(1, "─" * max(len(line) for line in lines))
    write("\n".join(lines))


# --- search: one line per chunk found ----------------------------------------------------------

HIT_HEADINGS = ("DOCUMENT", "CHUNK", "SCORE", "TEXT")
MIN_TEXT = 20


def hit_row(hit: dict[str, Any]) -> list[str]:
    score = hit.get("score")
    chunk = hit.get("chunk")
    return [
        str(hit.get("document") or ""),
        str(chunk) if chunk is not None else "",
        f"{score:.4f}" if isinstance(score, int | float) else "",
        " ".join(str(hit.get("text") or "").split()),
    ]


def print_hits(hits: list[dict[str, Any]]) -> None:
    """The chunks found, best first, each on one line: the text is cut to what the terminal's
    width leaves after the document name, chunk number and score (`COLUMNS` when not a terminal)."""
    if not hits:
        error_console().print("No results.", markup=False)
        return
    rows = [hit_row(hit) for hit in hits]
    widths = [max(len(heading), *(len(row[index]) for row in rows)) for index, heading in enumerate(HIT_HEADINGS)]
    fixed = sum(widths[:3]) + len(LOG_GAP) * 3
    widths[3] = max(MIN_TEXT, min(widths[3], console().width - fixed))
    lines = []
    for cells in [list(HIT_HEADINGS), *rows]:
        document, chunk, score, text = cells
        shown = [document.ljust(widths[0]), chunk.rjust(widths[1]), score.rjust(widths[2]), excerpt(text, widths[3])]
        lines.append(LOG_GAP.join(shown).rstrip())
    lines.insert(1, "─" * max(len(line) for line in lines))
    write("\n".join(lines))


def print_failure_lines(lines: list[str]) -> None:
    for line in lines:
        write_error(line)


@contextmanager
def progress_bar(console: Console, *columns: Any) -> Iterator[Progress]:
    """A bar on standard error while it is a terminal; nothing at all otherwise (scripts, pipes)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *columns,
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        yield progress
