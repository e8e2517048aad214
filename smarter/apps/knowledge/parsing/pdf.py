"""PDF: one section per page that has text, numbered from 1.

pypdf reads first; pdfminer.six reads when pypdf fails on the file or finds no text in it, since
the two recover from different damage and lay text out differently. Corrupt input makes both
libraries raise nearly anything (ValueError, KeyError, their own errors, recursion), which is why
their calls are wrapped broadly: whatever they raise becomes one clear sentence for the user.
"""

from __future__ import annotations

import io
import logging

from smarter.apps.knowledge.parsing.errors import ParseError, checked_length
from smarter.apps.knowledge.records import Section

logger = logging.getLogger(__name__)

MAX_PAGES = 2_000

ENCRYPTED = "the PDF is encrypted; remove its password and upload it again"
DAMAGED = "the PDF is damaged or is not a valid PDF file"
NO_TEXT = "no text could be extracted from the PDF; it may contain only scanned images"


class _Encrypted(Exception):
    pass


def parse_pdf(data: bytes) -> list[Section]:
    try:
        pages = _pages_with_pypdf(data)
    except _Encrypted:
        raise ParseError(ENCRYPTED) from None
    except ParseError:
        raise
    except Exception as error:  # see the module's docstring
        logger.info("pypdf could not read a PDF (%s); trying pdfminer", type(error).__name__)
        pages = None
    if not pages or not any(text.strip() for text in pages):
        pages = _pages_with_pdfminer(data, pypdf_failed=pages is None)
    sections = [Section(text=text.strip(), page=number) for number, text in enumerate(pages, 1) if text.strip()]
    if not sections:
        raise ParseError(NO_TEXT)
    return sections


def _pages_with_pypdf(data: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        # A PDF locked only against editing opens with the empty password: it is readable.
        try:
            opened = reader.decrypt("")
        except Exception:  # an unsupported cipher is as unreadable as a password
            raise _Encrypted from None
        if not opened:
            raise _Encrypted
    _checked_page_count(len(reader.pages))
    texts: list[str] = []
    for page in reader.pages:
        texts.append(page.extract_text() or "")
        checked_length(sum(len(text) for text in texts))
    return texts


def _pages_with_pdfminer(data: bytes, *, pypdf_failed: bool) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    texts: list[str] = []
    try:
        for page in extract_pages(io.BytesIO(data), maxpages=MAX_PAGES + 1):
            texts.append("".join(item.get_text() for item in page if isinstance(item, LTTextContainer)))
            _checked_page_count(len(texts))
            checked_length(sum(len(text) for text in texts))
    except ParseError:
        raise
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise ParseError(ENCRYPTED) from None
    except Exception as error:  # see the module's docstring
        logger.info("pdfminer could not read a PDF either (%s)", type(error).__name__)
        raise ParseError(DAMAGED if pypdf_failed else NO_TEXT) from None
    if pypdf_failed and not texts:
        raise ParseError(DAMAGED)
    return texts


def _checked_page_count(pages: int) -> None:
    if pages > MAX_PAGES:
        raise ParseError(f"the PDF has more than {MAX_PAGES:,} pages; split it into smaller documents")
