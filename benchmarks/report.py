"""Each benchmark owns one section of docs/performance.md, between its own markers."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

PERFORMANCE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HEADER = """# Performance

Figures measured by the scripts in `benchmarks/`, each run on the same 2-core machine, comparing
against a baseline measured in the same run (absolute numbers on a noisy machine mean little;
ratios do). Re-run a benchmark to refresh its section: `make bench` runs them all.
"""


def machine_line() -> str:
    now = datetime.now(UTC)
    return f"Measured {now:%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, {platform.machine()}."


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section `name` of the performance page."""
    text = PERFORMANCE_PAGE.read_text(encoding="utf-8") if PERFORMANCE_PAGE.exists() else HEADER
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n\n{machine_line()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    PERFORMANCE_PAGE.write_text(text, encoding="utf-8")
