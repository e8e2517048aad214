"""Where uploaded documents' raw bytes are kept: a local folder by default, S3 in production.

Keys are relative paths made by `storage_key`; both stores refuse a key that could reach outside
their root (absolute, `..`, backslashes), so a key that came from anywhere cannot name another file.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from django.conf import settings

S3_PREFIX = "knowledge/"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ACCOUNT_NUMBER = re.compile(r"[0-9A-Za-z-]+")


class StoredDocumentMissing(LookupError):
    """No document is stored under the key."""


class DocumentStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Removes the document; a key with nothing under it is already deleted."""
        ...


def storage_key(*, account_number: str, knowledge_base_id: int, content_hash: str) -> str:
    """`<account number>/<knowledge base id>/<sha256>`: one stored file per distinct content of a knowledge base."""
    if not _ACCOUNT_NUMBER.fullmatch(account_number):
        raise ValueError(f"not an account number: {account_number!r}")
    if knowledge_base_id < 1:
        raise ValueError(f"not a knowledge base id: {knowledge_base_id!r}")
    if not _SHA256.fullmatch(content_hash):
        raise ValueError("the content hash must be a lowercase hexadecimal SHA-256")
    return f"{account_number}/{knowledge_base_id}/{content_hash}"


def checked_key(key: str) -> str:
    path = PurePosixPath(key)
    if not key or "\\" in key or path.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"a document key must be a relative path inside the store: {key!r}")
    return key


class LocalDocumentStore:
    """Files under `root`, one per key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = self.root / checked_key(key)
        # A symbolic link inside the root could still point out of it.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"a document key must be a relative path inside the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a reader never sees half a file, a crash never leaves one.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoredDocumentMissing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3DocumentStore:
    """Objects of one bucket, keys under `prefix`."""

    def __init__(self, bucket: str, client: Any, *, prefix: str = "") -> None:
        self.bucket = bucket
        self.client = client
        self.prefix = prefix

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + checked_key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + checked_key(key))
        except self.client.exceptions.NoSuchKey:
            raise StoredDocumentMissing(key) from None
        body: bytes = answer["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + checked_key(key))


def document_store() -> DocumentStore:
    """S3 when `SMARTER_S3_BUCKET` is set, else the `documents` folder of the knowledge folder."""
    configuration = settings.SMARTER
    if configuration.s3_bucket:
        client = _s3_client(configuration.aws_region, configuration.aws_endpoint_url)
        return S3DocumentStore(configuration.s3_bucket, client, prefix=S3_PREFIX)
    return LocalDocumentStore(configuration.effective_knowledge_dir / "documents")


@functools.lru_cache(maxsize=4)
def _s3_client(region: str, endpoint_url: str | None) -> Any:
    """One client per region and endpoint: boto3 clients are thread-safe and slow to build."""
    import boto3

    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
