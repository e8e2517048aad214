"""Every write of the knowledge app, one function per use case (see each module).

- `knowledge_bases`: create, update (re-ingests when embedding or chunking change), delete;
  search;
- `documents`: add a file, a text or a URL; delete;
- `ingestion`: one document from its raw bytes to indexed chunks, with status and progress.
"""

from smarter.apps.knowledge.services.documents import (
    document_add_file,
    document_add_text,
    document_add_url,
    document_delete,
    knowledge_request_admit,
    max_upload_bytes,
)
from smarter.apps.knowledge.services.ingestion import TransientIngestError, document_ingest
from smarter.apps.knowledge.services.knowledge_bases import (
    knowledge_base_create,
    knowledge_base_delete,
    knowledge_base_update,
    knowledge_search,
)

__all__ = [
    "TransientIngestError",
    "document_add_file",
    "document_add_text",
    "document_add_url",
    "document_delete",
    "document_ingest",
    "knowledge_base_create",
    "knowledge_base_delete",
    "knowledge_base_update",
    "knowledge_request_admit",
    "knowledge_search",
    "max_upload_bytes",
]
