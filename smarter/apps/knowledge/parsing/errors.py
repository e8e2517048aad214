"""The two ways a document is refused, and the bounds every parser keeps.

Messages are sentences a user reads in the document's `error` (or in the 415 answer): they name
the problem and what to do, never a server path or a library's exception text.
"""

from __future__ import annotations

SUPPORTED_TYPES: tuple[str, ...] = ("txt", "md", "html", "pdf", "docx")

# The most text one document may yield: about a million tokens, a few thousand chunks. A larger
# document is refused rather than cut, so that what is indexed is never silently incomplete.
MAX_CHARACTERS = 5_000_000


class UnsupportedDocument(ValueError):
    """The document is of a type that is not accepted (the API answers 415)."""


class ParseError(ValueError):
    """The document is of an accepted type but its text cannot be read (the document fails)."""


def accepted_types_sentence() -> str:
    return "the accepted types are " + ", ".join(SUPPORTED_TYPES)


def checked_length(total_characters: int) -> None:
    """Refuses a document whose text has grown past `MAX_CHARACTERS` (parsers call it as they go)."""
    if total_characters > MAX_CHARACTERS:
        raise ParseError(
            f"the document has more than {MAX_CHARACTERS:,} characters of text; split it into smaller documents"
        )
