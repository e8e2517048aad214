"""HTML: the visible text, one section per heading (h1-h6) under the path of headings above it.

Scripts, styles, navigation and the head are dropped before reading. The page's <title> names the
text that comes before its first heading.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from smarter.apps.knowledge.parsing.errors import checked_length
from smarter.apps.knowledge.parsing.text import decode_text
from smarter.apps.knowledge.records import Section

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_DROPPED = ("script", "style", "nav", "noscript", "template", "head", "title", "iframe", "svg")
# Elements that end a line of text when rendered; inline ones (a, em, span...) do not.
_BLOCKS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"),
        *("footer", "form", "header", "hr", "li", "main", "ol", "p", "pre", "section", "table", "tbody"),
        *("td", "th", "thead", "tr", "ul"),
    )
)


def parse_html(data: bytes) -> list[Section]:
    text = decode_text(data)
    checked_length(len(text))
    soup = BeautifulSoup(text, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for element in soup.find_all(_DROPPED):
        element.decompose()

    sections: list[Section] = []
    headings: list[tuple[int, str]] = [(0, title)] if title else []
    buffer: list[str] = []

    def flush() -> None:
        body = _tidy("".join(buffer))
        if body:
            sections.append(Section(text=body, heading_path=tuple(name for _, name in headings)))
        buffer.clear()

    root = soup.body or soup
    for node in root.descendants:
        if isinstance(node, Tag):
            if node.name in HEADINGS:
                flush()
                level = int(node.name[1])
                headings = [(depth, name) for depth, name in headings if 0 < depth < level]
                headings.append((level, " ".join(node.get_text(" ").split())))
            elif node.name in _BLOCKS:
                buffer.append("\n")
        elif (
            # Comments, doctypes and CDATA are PreformattedStrings: not visible text.
            isinstance(node, NavigableString)
            and not isinstance(node, PreformattedString)
            and node.find_parent(HEADINGS) is None
        ):
            buffer.append(str(node))
    flush()
    return sections


def _tidy(text: str) -> str:
    """Runs of spaces to one, blank lines away: what a reader sees of the markup's whitespace."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
