"""Markdown: one section per heading, under the path of headings above it.

The section's text is the document's own markdown source of its blocks (lists, tables, code kept
as written), so the markdown-aware chunker still sees the structure; heading lines themselves go
into `heading_path` and not into the text.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from smarter.apps.knowledge.parsing.errors import checked_length
from smarter.apps.knowledge.parsing.text import decode_text
from smarter.apps.knowledge.records import Section


def parse_markdown(data: bytes) -> list[Section]:
    text = decode_text(data)
    checked_length(len(text))
    return markdown_sections(text)


def markdown_sections(text: str) -> list[Section]:
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []  # (level, title) from the outermost in
    blocks: list[str] = []

    def flush() -> None:
        body = "\n\n".join(block for block in blocks if block).strip()
        if body:
            sections.append(Section(text=body, heading_path=tuple(title for _, title in headings)))
        blocks.clear()

    for index, token in enumerate(tokens):
        # Only top-level blocks opening (or self-contained) carry the source lines they span.
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        if token.type == "heading_open":
            flush()
            level = int(token.tag[1:])
            headings = [(depth, title) for depth, title in headings if depth < level]
            headings.append((level, _plain_inline(tokens[index + 1])))
            continue
        start, end = token.map
        blocks.append("\n".join(lines[start:end]).strip("\n"))
    flush()
    return sections


def _plain_inline(inline: Token) -> str:
    """A heading's words without their markup (`## The **fast** path` -> "The fast path")."""
    parts = [child.content for child in inline.children or () if child.type in ("text", "code_inline")]
    return " ".join("".join(parts).split()) or inline.content.strip()
