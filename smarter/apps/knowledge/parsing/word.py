"""docx: paragraphs and tables in document order, one section per heading ("Heading N" styles)
under the path of headings above it.

A docx is a zip. Before python-docx unpacks anything, the zip's directory (which costs nothing to
read) must promise a sane amount of work: a few members, a bounded unpacked size, and no member
that inflates like a bomb. Python's zipfile stops a member at its declared size and fails its
checksum, so declared sizes that lie do not let more out than was checked here.
"""

from __future__ import annotations

import io
import zipfile

import docx
from docx.table import Table

from smarter.apps.knowledge.parsing.errors import ParseError, checked_length
from smarter.apps.knowledge.records import Section

MAX_MEMBERS = 1_000
MIB = 1024 * 1024
MAX_UNPACKED_BYTES = 256 * MIB
# Word's XML compresses about 5-30 times; a bomb compresses a thousand times and more. Members
# under the small size floor are never bombs whatever their ratio (an empty part compresses 1:50).
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_ABOVE_BYTES = MIB

DAMAGED = "the docx file is damaged or is not a Word document"


def parse_docx(data: bytes) -> list[Section]:
    check_docx_archive(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # a broken package raises anything from zipfile to lxml
        raise ParseError(DAMAGED) from None

    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    lines: list[str] = []
    total = 0

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(text=body, heading_path=tuple(title for _, title in headings)))
        lines.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            text = _table_text(block)
        else:
            text = block.text.strip()
            level = _heading_level(block.style.name if block.style is not None else "")
            if level is not None and text:
                flush()
                headings = [(depth, title) for depth, title in headings if depth < level]
                headings.append((level, " ".join(text.split())))
                continue
        if text:
            lines.append(text)
            total += len(text)
            checked_length(total)
    flush()
    return sections


def check_docx_archive(data: bytes) -> None:
    """Refuses, from the zip's directory alone, what is not a docx or would unpack too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ParseError(DAMAGED) from None
    if len(members) > MAX_MEMBERS:
        raise ParseError(f"the docx file holds more than {MAX_MEMBERS:,} parts; it is refused as unsafe")
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise ParseError(
            f"the docx file would unpack to more than {MAX_UNPACKED_BYTES // MIB} MiB; it is refused as unsafe"
        )
    for member in members:
        if member.file_size > RATIO_CHECKED_ABOVE_BYTES and (
            member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1)
        ):
            raise ParseError("the docx file is compressed far beyond what a document can be; it is refused as unsafe")
    if "word/document.xml" not in {member.filename for member in members}:
        raise ParseError(DAMAGED)


def _heading_level(style_name: str) -> int | None:
    """1-9 for Word's built-in "Heading N" styles, None for any other paragraph."""
    prefix, _, number = style_name.partition(" ")
    if prefix == "Heading" and number.isdigit():
        return int(number)
    return None


def _table_text(table: Table) -> str:
    """One line per row, cells separated by " | ". python-docx repeats a merged cell once per
    column it spans (the same object), which is read once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell is not previous:
                cells.append(" ".join(cell.text.split()))
            previous = cell
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
