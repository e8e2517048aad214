"""Parsing real files of every accepted type, and refusing the ones a user must be told about."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from smarter.apps.knowledge.parsing import ParseError, UnsupportedDocument, detect_type, parse_document, word
from smarter.apps.knowledge.records import Section

ACCEPTED = "the accepted types are txt, md, html, pdf, docx"


def pdf_of(*pages: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def encrypted(data: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password="owner secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def manual_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Read this before installing.")
    document.add_heading("Installation", level=1)
    document.add_paragraph("Mount the pump on a level floor.")
    document.add_heading("Wiring", level=2)
    document.add_paragraph("Use a 16 A fuse.")
    table = document.add_table(rows=2, cols=2)
    for row, (part, number) in enumerate([("Part", "Number"), ("Impeller", "IMP-7")]):
        table.cell(row, 0).text = part
        table.cell(row, 1).text = number
    document.add_heading("Maintenance", level=1)
    document.add_paragraph("Clean the filter monthly.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_named_docx() -> bytes:
    """A docx-looking zip whose document part inflates 1000 times over (a few hundred KiB on
    disk, 300 MiB unpacked); the parser must refuse it from the zip's directory alone."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(block)
    return out.getvalue()


# --- detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "data", "expected"),
    [
        ("notes.txt", "text/plain", b"hello", "txt"),
        ("README.md", None, b"# Title", "md"),
        ("page.HTM", None, b"<p>hi</p>", "html"),
        ("upload", "text/markdown; charset=utf-8", b"# Title", "md"),
        ("index.php", "text/html", b"<p>hi</p>", "html"),
        ("download", None, b"<!DOCTYPE html><html><body>hi</body></html>", "html"),
        ("manual.pdf", "application/pdf", b"%PDF-1.7\n...", "pdf"),
        ("scan.txt", "text/plain", b"%PDF-1.4\n...", "pdf"),
        ("empty.pdf", None, b"", "pdf"),
    ],
)
def test_a_document_type_comes_from_its_name_content_type_and_first_bytes(
    name: str, content_type: str | None, data: bytes, expected: str
) -> None:
    assert detect_type(name=name, content_type=content_type, data=data) == expected


def test_a_docx_is_a_zip_with_a_word_document_inside_whatever_its_name() -> None:
    assert detect_type(name="manual.docx", content_type=None, data=manual_docx()) == "docx"
    assert detect_type(name="manual", content_type="application/octet-stream", data=manual_docx()) == "docx"


@pytest.mark.parametrize(
    ("name", "content_type", "data", "message"),
    [
        ("photo.png", "image/png", b"\x89PNG\r\n", f"“photo.png” is not a supported document type; {ACCEPTED}"),
        ("C:\\Users\\me\\sheet.xlsx", None, b"x", f"“sheet.xlsx” is not a supported document type; {ACCEPTED}"),
        (
            "report.pdf",
            "application/pdf",
            b"Hello, not a PDF",
            f"“report.pdf” is declared as a PDF but its content is not one; {ACCEPTED}",
        ),
        (
            "letter.docx",
            None,
            b"plain words",
            f"“letter.docx” is declared as a Word document (docx) but its content is not one; {ACCEPTED}",
        ),
    ],
)
def test_an_unsupported_or_mislabelled_document_is_refused_naming_the_accepted_types(
    name: str, content_type: str | None, data: bytes, message: str
) -> None:
    with pytest.raises(UnsupportedDocument) as refused:
        detect_type(name=name, content_type=content_type, data=data)
    assert str(refused.value) == message


def test_an_archive_that_is_not_a_docx_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(UnsupportedDocument) as refused:
        detect_type(name="notes.zip", content_type="application/zip", data=out.getvalue())
    assert str(refused.value) == f"“notes.zip” is an archive, not a document; {ACCEPTED}"


# --- plain text ------------------------------------------------------------------------------------

WESTERN = "Le café crème coûte 5 € — naïve façade, “quotes” and déjà vu.\nZweite Zeile: Müller, Straße, señor."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_text_comes_out_right_in_the_encoding_it_was_saved_in(encoding: str) -> None:
    assert parse_document(WESTERN.encode(encoding), doc_type="txt") == [Section(text=WESTERN)]


def test_latin_1_text_comes_out_right() -> None:
    text = "Die Größe der Pumpe beträgt 5 m³. Öffnen Sie das Ventil für Wartungsarbeiten."
    assert parse_document(text.encode("latin-1"), doc_type="txt") == [Section(text=text)]


def test_windows_line_endings_become_newlines() -> None:
    assert parse_document(b"one\r\ntwo\r\n", doc_type="txt") == [Section(text="one\ntwo")]


@pytest.mark.parametrize("doc_type", ["txt", "md", "html", "pdf", "docx"])
def test_a_zero_byte_document_is_empty(doc_type: str) -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(b"", doc_type=doc_type)
    assert str(failed.value) == "the document is empty"


def test_a_document_of_only_whitespace_has_no_text() -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(b" \n\t\n", doc_type="txt")
    assert str(failed.value) == "no text could be extracted from the document"


# --- markdown --------------------------------------------------------------------------------------


def test_markdown_sections_sit_under_their_heading_path() -> None:
    source = (
        "Intro before any heading.\n\n"
        "# Pump manual\n\nThe pump moves water.\n\n"
        "## Installation\n\n- Level floor\n- 16 A fuse\n\n"
        "### Wiring **safely**\n\n```\nL1 -> brown\n```\n\n"
        "## Maintenance\n\nClean the filter.\n\n"
        "# Warranty\n\nTwo years.\n"
    )
    assert parse_document(source.encode(), doc_type="md") == [
        Section(text="Intro before any heading."),
        Section(text="The pump moves water.", heading_path=("Pump manual",)),
        Section(text="- Level floor\n- 16 A fuse", heading_path=("Pump manual", "Installation")),
        Section(text="```\nL1 -> brown\n```", heading_path=("Pump manual", "Installation", "Wiring safely")),
        Section(text="Clean the filter.", heading_path=("Pump manual", "Maintenance")),
        Section(text="Two years.", heading_path=("Warranty",)),
    ]


def test_markdown_of_headings_alone_has_no_text() -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(b"# One\n## Two\n", doc_type="md")
    assert str(failed.value) == "no text could be extracted from the document"


# --- HTML ------------------------------------------------------------------------------------------


def test_html_keeps_visible_text_under_its_headings_and_drops_scripts_styles_and_navigation() -> None:
    page = b"""<!DOCTYPE html><html><head><title>Pump  manual</title><style>p {color: red}</style></head>
    <body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
    <p>Welcome to the <em>manual</em>.</p><script>alert("x")</script>
    <h1>Installation</h1><p>Mount the pump.</p>
    <h2>Wiring</h2><ul><li>Brown is live</li><li>Blue is neutral</li></ul><!-- a comment -->
    <h3>Fuses</h3><p>16 A.</p>
    <h2>Testing</h2><table><tr><td>Pressure</td><td>3 bar</td></tr></table>
    <h1>Warranty</h1><p>Two   years.</p></body></html>"""
    assert parse_document(page, doc_type="html") == [
        Section(text="Welcome to the manual.", heading_path=("Pump manual",)),
        Section(text="Mount the pump.", heading_path=("Installation",)),
        Section(text="Brown is live\nBlue is neutral", heading_path=("Installation", "Wiring")),
        Section(text="16 A.", heading_path=("Installation", "Wiring", "Fuses")),
        Section(text="Pressure\n3 bar", heading_path=("Installation", "Testing")),
        Section(text="Two years.", heading_path=("Warranty",)),
    ]


def test_html_with_only_scripts_has_no_text() -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(b"<html><body><script>var a = 1;</script></body></html>", doc_type="html")
    assert str(failed.value) == "no text could be extracted from the document"


# --- PDF -------------------------------------------------------------------------------------------


def test_a_pdf_is_read_page_by_page_numbered_from_one() -> None:
    data = pdf_of("Installation: mount the pump.", "", "Maintenance: clean the filter.\nEvery month.")
    assert parse_document(data, doc_type="pdf") == [
        Section(text="Installation: mount the pump.", page=1),
        Section(text="Maintenance: clean the filter.\nEvery month.", page=3),
    ]


def test_an_encrypted_pdf_fails_saying_so() -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(encrypted(pdf_of("Secret plans."), user_password="open sesame"), doc_type="pdf")
    assert str(failed.value) == "the PDF is encrypted; remove its password and upload it again"


def test_a_pdf_locked_only_against_editing_is_read() -> None:
    data = encrypted(pdf_of("Public words."), user_password="")
    assert parse_document(data, doc_type="pdf") == [Section(text="Public words.", page=1)]


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_pdf_fails_as_damaged(keep: float) -> None:
    data = pdf_of("First page.", "Second page.")
    with pytest.raises(ParseError) as failed:
        parse_document(data[: int(len(data) * keep)], doc_type="pdf")
    assert str(failed.value) == "the PDF is damaged or is not a valid PDF file"


def test_a_pdf_without_text_fails_saying_it_may_be_scanned() -> None:
    with pytest.raises(ParseError) as failed:
        parse_document(pdf_of("", ""), doc_type="pdf")
    assert str(failed.value) == "no text could be extracted from the PDF; it may contain only scanned images"


def test_pdfminer_reads_when_pypdf_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarter.apps.knowledge.parsing import pdf

    def refuses(data: bytes) -> list[str]:
        raise RecursionError("pypdf gave up")

    monkeypatch.setattr(pdf, "_pages_with_pypdf", refuses)
    assert parse_document(pdf_of("Alpha.", "Beta."), doc_type="pdf") == [
        Section(text="Alpha.", page=1),
        Section(text="Beta.", page=2),
    ]


def test_a_pdf_with_too_many_pages_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarter.apps.knowledge.parsing import pdf

    monkeypatch.setattr(pdf, "MAX_PAGES", 2)
    with pytest.raises(ParseError) as failed:
        parse_document(pdf_of("a", "b", "c"), doc_type="pdf")
    assert str(failed.value) == "the PDF has more than 2 pages; split it into smaller documents"


# --- docx ------------------------------------------------------------------------------------------


def test_a_docx_is_read_with_headings_paragraphs_and_tables_in_order() -> None:
    assert parse_document(manual_docx(), doc_type="docx") == [
        Section(text="Read this before installing."),
        Section(text="Mount the pump on a level floor.", heading_path=("Installation",)),
        Section(text="Use a 16 A fuse.\nPart | Number\nImpeller | IMP-7", heading_path=("Installation", "Wiring")),
        Section(text="Clean the filter monthly.", heading_path=("Maintenance",)),
    ]


def test_a_zip_bomb_disguised_as_docx_is_refused_before_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    data = zip_bomb_named_docx()
    assert len(data) < 1024 * 1024
    assert detect_type(name="contract.docx", content_type=None, data=data) == "docx"

    def unpacked(*args: object) -> None:
        raise AssertionError("the bomb reached python-docx")

    monkeypatch.setattr(word.docx, "Document", unpacked)
    with pytest.raises(ParseError) as failed:
        parse_document(data, doc_type="docx")
    assert str(failed.value) == "the docx file would unpack to more than 256 MiB; it is refused as unsafe"


def test_a_docx_compressed_like_a_bomb_is_refused_under_the_size_limit() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(ParseError) as failed:
        parse_document(out.getvalue(), doc_type="docx")
    assert str(failed.value) == "the docx file is compressed far beyond what a document can be; it is refused as unsafe"


def test_a_docx_of_too_many_parts_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        for number in range(word.MAX_MEMBERS):
            archive.writestr(f"word/media/{number}.bin", b"")
    with pytest.raises(ParseError) as failed:
        parse_document(out.getvalue(), doc_type="docx")
    assert str(failed.value) == "the docx file holds more than 1,000 parts; it is refused as unsafe"


def test_a_damaged_docx_fails_as_damaged() -> None:
    data = manual_docx()
    with pytest.raises(ParseError) as failed:
        parse_document(data[: len(data) // 2], doc_type="docx")
    assert str(failed.value) == "the docx file is damaged or is not a Word document"


def test_a_docx_with_no_text_has_no_text() -> None:
    out = io.BytesIO()
    docx.Document().save(out)
    with pytest.raises(ParseError) as failed:
        parse_document(out.getvalue(), doc_type="docx")
    assert str(failed.value) == "no text could be extracted from the document"


def test_a_document_over_the_character_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from smarter.apps.knowledge.parsing import errors

    monkeypatch.setattr(errors, "MAX_CHARACTERS", 10)
    with pytest.raises(ParseError) as failed:
        parse_document(b"eleven characters", doc_type="txt")
    assert str(failed.value) == "the document has more than 10 characters of text; split it into smaller documents"


def test_no_message_names_a_server_path_or_a_library() -> None:
    broken = [
        (pdf_of("x")[:200], "pdf"),
        (b"%PDF-1.4 garbage", "pdf"),
        (b"PK\x03\x04garbage", "docx"),
        (encrypted(pdf_of("x"), user_password="pw"), "pdf"),
    ]
    for data, doc_type in broken:
        with pytest.raises(ParseError) as failed:
            parse_document(data, doc_type=doc_type)
        message = str(failed.value)
        assert "/" not in message and "Error" not in message and "pypdf" not in message, message


def test_parsing_as_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnsupportedDocument) as refused:
        parse_document(b"a,b", doc_type="csv")
    assert str(refused.value) == f"“csv” is not a supported document type; {ACCEPTED}"
