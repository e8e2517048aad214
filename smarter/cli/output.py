"""How results reach the terminal: tables that fit its width, or exact JSON and YAML.

JSON and YAML are written as plain text, never through rich: rich wraps long lines to the
terminal width, which would corrupt a document that a script parses.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from smarter.cli.manifests import dump_yaml

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=False)


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
        stderr.print(f"No {thing or 'resources'} found.", markup=False)
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
    with stdout.capture() as captured:
        stdout.print(table)
    write("\n".join(line.rstrip() for line in captured.get().rstrip("\n").split("\n")))


def print_failure_lines(lines: list[str]) -> None:
    for line in lines:
        write_error(line)
