"""Plain text: bytes to str in whatever encoding they were saved in."""

from __future__ import annotations

import codecs

from charset_normalizer import CharsetMatch, from_bytes

from smarter.apps.knowledge.parsing.errors import ParseError, checked_length
from smarter.apps.knowledge.records import Section

# A byte-order mark settles the encoding; UTF-32's marks start with UTF-16's, so they come first.
_BYTE_ORDER_MARKS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How much more "chaos" (odd characters per character, 0..1) a reading may show and still compete.
_CHAOS_MARGIN = 0.1


def decode_text(data: bytes) -> str:
    """The text of `data`: a byte-order mark decides, then strict UTF-8 (by far the most common,
    and detection can misname short UTF-8 texts), then charset-normalizer's best guess, which
    tells UTF-16 without a mark and the single-byte Windows and ISO code pages apart."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return _normalized_newlines(data[len(mark) :].decode(encoding))
            except UnicodeDecodeError:
                raise ParseError(
                    f"the text is marked as {encoding.upper()} but is not valid {encoding.upper()}"
                ) from None
    try:
        return _normalized_newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data))
    if not matches:
        raise ParseError("the text's encoding could not be recognised; save it as UTF-8 and upload it again")
    return _normalized_newlines(str(_likeliest(matches)))


def _likeliest(matches: list[CharsetMatch]) -> CharsetMatch:
    """charset-normalizer ranks by "chaos" (odd characters) first, and on a short text a Baltic
    or Central European code page can look a hair tidier than the Western one it really is
    ("crème" read as "crčme"). Among the nearly as tidy, the reading whose words fit a language
    best wins, and Windows-1252, by far the most common single-byte encoding, wins a tie."""
    tidiest = matches[0].chaos
    close = [match for match in matches if match.chaos <= tidiest + _CHAOS_MARGIN]
    return max(close, key=lambda match: (round(match.coherence, 3), match.encoding == "cp1252"))


def _normalized_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(data: bytes) -> list[Section]:
    text = decode_text(data)
    checked_length(len(text))
    if "\x00" in text:
        # A binary file that decoded by chance: its "text" is noise nobody could search.
        raise ParseError("the file is not text; upload a txt, md, html, pdf or docx document")
    text = text.strip()
    return [Section(text=text)] if text else []
