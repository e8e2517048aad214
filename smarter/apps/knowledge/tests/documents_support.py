"""What the document tests share: bad files made on the spot, uploads through the API with the
ingestion task run as the embedded default runs it (eagerly, once the request commits), and a
look into the index and the store."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from smarter.apps.account.tests.factories import Persona
from smarter.apps.knowledge import storage
from smarter.apps.knowledge.index import knowledge_index
from smarter.apps.knowledge.models import Document, KnowledgeBase

MIB = 1024 * 1024


def documents_url(name: str = "manual") -> str:
    return f"/api/v1/knowledge/{name}/documents/"


def upload(persona: Persona, filename: str, data: bytes, *, kb: str = "manual", content_type: str = "") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(filename, data, content_type=content_type or "application/octet-stream")
    return persona.client.post(documents_url(kb), data={"file": file}, format="multipart")


def add_text(persona: Persona, name: str, text: str, *, kb: str = "manual") -> Any:
    return persona.client.post(documents_url(kb), data={"name": name, "text": text}, format="json")


def search(persona: Persona, query: str, *, kb: str = "manual", **body: Any) -> Any:
    return persona.client.post(f"/api/v1/knowledge/{kb}/search/", data={"query": query, **body}, format="json")


def indexed(knowledge_base: KnowledgeBase, document_id: int | None = None) -> int:
    """How many chunks of the knowledge base (or of one document) the index holds."""
    return knowledge_index().count(
        account_id=knowledge_base.account_id, knowledge_base_id=knowledge_base.pk, document_id=document_id
    )


def stored(key: str) -> bool:
    try:
        storage.document_store().get(key)
    except storage.StoredDocumentMissing:
        return False
    return True


def document(document_id: int) -> Document:
    return Document.objects.get(pk=document_id)


# --- bad documents ----------------------------------------------------------------------------
def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not the rest of a PDF\n"


def zip_bomb_docx() -> bytes:
    """A docx-shaped zip whose document part unpacks to 300 MiB of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b" " * MIB
            for _ in range(300):
                member.write(block)
    return out.getvalue()
