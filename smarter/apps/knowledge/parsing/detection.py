"""Which of the accepted types a document is: its name, then its declared content type, then
its first bytes. A name or content type claiming PDF or docx must be backed by the bytes, and
bytes that are unmistakably a PDF or a docx are read as such whatever the name says."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from smarter.apps.knowledge.parsing.errors import UnsupportedDocument, accepted_types_sentence

_BY_EXTENSION = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_BY_CONTENT_TYPE = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
# PDF readers accept the header anywhere in the first kilobyte (some files carry junk before it).
_PDF_HEADER_WINDOW = 1024
_ZIP_MAGIC = b"PK\x03\x04"


def detect_type(*, name: str, content_type: str | None, data: bytes) -> str:
    """One of txt, md, html, pdf, docx; raises `UnsupportedDocument` with a sentence for the user."""
    sniffed = _sniffed_type(data)
    claimed = _BY_EXTENSION.get(PurePosixPath(name.lower()).suffix) or _BY_CONTENT_TYPE.get(
        (content_type or "").split(";")[0].strip().lower()
    )
    if sniffed in ("pdf", "docx"):
        return sniffed
    if claimed in ("pdf", "docx") and data:
        label = "a PDF" if claimed == "pdf" else "a Word document (docx)"
        raise UnsupportedDocument(
            f"“{_shown(name)}” is declared as {label} but its content is not one; {accepted_types_sentence()}"
        )
    if sniffed == "zip":
        raise UnsupportedDocument(f"“{_shown(name)}” is an archive, not a document; {accepted_types_sentence()}")
    if claimed:
        return claimed
    if sniffed == "html":
        return "html"
    raise UnsupportedDocument(f"“{_shown(name)}” is not a supported document type; {accepted_types_sentence()}")


def _sniffed_type(data: bytes) -> str | None:
    """What the first bytes say: "pdf", "docx", "zip" (any other archive), "html", or None."""
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    if data.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else "zip"
        except (zipfile.BadZipFile, ValueError, OSError):
            return "zip"
    head = data[:_PDF_HEADER_WINDOW].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def _shown(name: str) -> str:
    """The file's own name, never a folder of the machine it came from."""
    return PurePosixPath(name.replace("\\", "/")).name or "the document"
