"""Refusing an oversized upload while it streams in: Django hands each chunk of a multipart
file to its upload handlers as it reads it, so this one counts the bytes and stops the request
at the first chunk past the limit, before the rest is read (a client that sends no
Content-Length, or lies in it, is refused there too). The API's and the console's uploads both
install it."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler

from smarter.apps.knowledge.services.documents import too_large


class UploadLimit(FileUploadHandler):
    """The first handler of an upload request: past `limit` bytes of files, a 413."""

    def __init__(self, request: Any, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise too_large(None)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers keep the file
