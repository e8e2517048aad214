"""Keeping uploaded documents' bytes: in a local folder, and in S3 (moto's server on loopback)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.knowledge.storage import (
    LocalDocumentStore,
    S3DocumentStore,
    StoredDocumentMissing,
    document_store,
    storage_key,
)

CONTENT = b"%PDF-1.7 the manual"
HASH = hashlib.sha256(CONTENT).hexdigest()
KEY = f"3141-5926-5358/7/{HASH}"


@dataclass
class S3:
    url: str
    client: Any


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """moto's S3 served over HTTP on a free loopback port, with an empty bucket "smarter-files",
    and a boto3 client of it."""
    import boto3
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
        client.create_bucket(Bucket="smarter-files")
        yield S3(url=url, client=client)
    finally:
        server.stop()


def test_a_storage_key_is_account_knowledge_base_and_content_hash() -> None:
    assert storage_key(account_number="3141-5926-5358", knowledge_base_id=7, content_hash=HASH) == KEY


@pytest.mark.parametrize(
    ("account_number", "knowledge_base_id", "content_hash"),
    [("../etc", 7, HASH), ("3141", 0, HASH), ("3141", 7, HASH.upper()), ("3141", 7, "abc")],
)
def test_a_storage_key_of_bad_parts_is_refused(account_number: str, knowledge_base_id: int, content_hash: str) -> None:
    with pytest.raises(ValueError):
        storage_key(account_number=account_number, knowledge_base_id=knowledge_base_id, content_hash=content_hash)


def test_the_local_store_keeps_documents_under_its_root(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "documents")
    store.put(KEY, CONTENT)
    assert (tmp_path / "documents" / KEY).read_bytes() == CONTENT
    assert store.get(KEY) == CONTENT
    store.put(KEY, b"replaced")
    assert store.get(KEY) == b"replaced"
    assert sorted(path.name for path in (tmp_path / "documents" / "3141-5926-5358" / "7").iterdir()) == [HASH]
    store.delete(KEY)
    store.delete(KEY)  # deleting what is gone is not an error
    with pytest.raises(StoredDocumentMissing):
        store.get(KEY)


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "a/../../outside", "a//b", "a\\..\\b", "./a"])
def test_the_local_store_refuses_keys_that_escape_its_root(tmp_path: Path, key: str) -> None:
    store = LocalDocumentStore(tmp_path / "documents")
    for action in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.delete(key)):
        with pytest.raises(ValueError):
            action()
    assert list(tmp_path.rglob("*")) == []


def test_the_local_store_refuses_a_link_out_of_its_root(tmp_path: Path) -> None:
    (tmp_path / "documents").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "documents" / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        LocalDocumentStore(tmp_path / "documents").put("linked/file", b"x")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_the_s3_store_keeps_documents_as_objects_under_its_prefix(s3: S3) -> None:
    store = S3DocumentStore("smarter-files", s3.client, prefix="knowledge/")
    store.put(KEY, CONTENT)
    listed = s3.client.list_objects_v2(Bucket="smarter-files")["Contents"]
    assert [item["Key"] for item in listed] == [f"knowledge/{KEY}"]
    assert store.get(KEY) == CONTENT
    store.delete(KEY)
    store.delete(KEY)
    assert s3.client.list_objects_v2(Bucket="smarter-files")["KeyCount"] == 0
    with pytest.raises(StoredDocumentMissing):
        store.get(KEY)
    with pytest.raises(ValueError):
        store.put("../other-prefix/x", b"x")


def test_documents_go_to_the_knowledge_folder_without_a_bucket(smarter_settings: Any, tmp_path: Path) -> None:
    smarter_settings.s3_bucket = None
    smarter_settings.knowledge_dir = tmp_path / "knowledge"
    store = document_store()
    store.put(KEY, CONTENT)
    assert (tmp_path / "knowledge" / "documents" / KEY).read_bytes() == CONTENT


def test_documents_go_to_s3_when_a_bucket_is_set(smarter_settings: Any, s3: S3, tmp_path: Path) -> None:
    smarter_settings.knowledge_dir = tmp_path / "knowledge"
    smarter_settings.s3_bucket = "smarter-files"
    smarter_settings.aws_endpoint_url = s3.url
    smarter_settings.aws_region = "us-east-1"
    document_store().put(KEY, CONTENT)
    assert s3.client.get_object(Bucket="smarter-files", Key=f"knowledge/{KEY}")["Body"].read() == CONTENT
    assert document_store().get(KEY) == CONTENT
    assert not (tmp_path / "knowledge").exists()
