"""Documents to text: which type a document is, and its text as sections (see `records.Section`).

One module per format; every parser takes bytes and returns sections, or raises `ParseError`
with a sentence for the user.
"""

from __future__ import annotations

from collections.abc import Callable

from smarter.apps.knowledge.parsing.detection import detect_type
from smarter.apps.knowledge.parsing.errors import (
    MAX_CHARACTERS,
    SUPPORTED_TYPES,
    ParseError,
    UnsupportedDocument,
    accepted_types_sentence,
)
from smarter.apps.knowledge.parsing.html import parse_html
from smarter.apps.knowledge.parsing.markdown import parse_markdown
from smarter.apps.knowledge.parsing.pdf import parse_pdf
from smarter.apps.knowledge.parsing.text import parse_text
from smarter.apps.knowledge.parsing.word import parse_docx
from smarter.apps.knowledge.records import Section

__all__ = ["MAX_CHARACTERS", "SUPPORTED_TYPES", "ParseError", "UnsupportedDocument", "detect_type", "parse_document"]

EMPTY = "the document is empty"
NO_TEXT = "no text could be extracted from the document"

_PARSERS: dict[str, Callable[[bytes], list[Section]]] = {
    "txt": parse_text,
    "md": parse_markdown,
    "html": parse_html,
    "pdf": parse_pdf,
    "docx": parse_docx,
}


def parse_document(data: bytes, *, doc_type: str) -> list[Section]:
    """The document's sections in reading order, at least one, each with some text."""
    parser = _PARSERS.get(doc_type)
    if parser is None:
        raise UnsupportedDocument(f"“{doc_type}” is not a supported document type; {accepted_types_sentence()}")
    if not data:
        raise ParseError(EMPTY)
    sections = parser(data)
    if not sections:
        raise ParseError(NO_TEXT)
    return sections
