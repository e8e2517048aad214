"""The served platform refuses an upload past the limit before the body arrives: Django's ASGI
handler would otherwise receive (and spool) all of it before the view could say 413."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.knowledge.models import Document
from smarter.apps.knowledge.tests.documents_support import MIB
from smarter.apps.knowledge.tests.factories import make_knowledge_base

BOUNDARY = "smarterboundary"


def _send_head(server: Any, key: str, headers: dict[str, str]) -> socket.socket:
    address = urlsplit(server.url)
    connection = socket.create_connection((address.hostname, address.port), timeout=10)
    lines = [
        "POST /api/v1/knowledge/manual/documents/ HTTP/1.1",
        f"Host: {address.netloc}",
        f"Authorization: Token {key}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def _part_head() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


def _response(connection: socket.socket) -> tuple[int, dict[str, Any]]:
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split(b" ", 2)[1]), json.loads(body[:length])


@pytest.fixture
def limited(asgi_server: Any, owner: Persona, smarter_settings: Any) -> Any:
    smarter_settings.knowledge_max_upload_mib = 1
    make_knowledge_base(owner.account)
    return asgi_server


def test_a_declared_length_past_the_limit_is_refused_before_the_body_is_sent(limited: Any, owner: Persona) -> None:
    connection = _send_head(limited, owner.key, {"Content-Length": str(60 * MIB)})
    connection.sendall(_part_head())  # and nothing more: the answer must not wait for the rest
    status, body = _response(connection)
    connection.close()
    assert status == 413
    assert body["errorClass"] == "PayloadTooLarge"
    assert body["description"] == "A document may be at most 1 MiB."
    assert body["context"]["limit"] == MIB and body["context"]["size"] == 60 * MIB
    assert not Document.objects.exists()


def test_a_chunked_body_is_refused_at_the_first_chunk_past_the_limit(limited: Any, owner: Persona) -> None:
    connection = _send_head(limited, owner.key, {"Transfer-Encoding": "chunked"})

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    connection.sendall(chunk(_part_head()))
    for _ in range(3):  # 1.5 MiB of a body that never ends
        connection.sendall(chunk(b"a" * (MIB // 2)))
    status, body = _response(connection)
    connection.close()
    assert status == 413
    assert body["description"] == "A document may be at most 1 MiB."
    assert body["context"]["size"] is None
    assert not Document.objects.exists()


def test_a_body_within_the_limit_reaches_the_endpoint(limited: Any, owner: Persona) -> None:
    data = _part_head() + b"a small manual\r\n" + f"--{BOUNDARY}--\r\n".encode()
    connection = _send_head(limited, owner.key, {"Content-Length": str(len(data))})
    connection.settimeout(120)  # the embedded default ingests before answering: the model may load first
    connection.sendall(data)
    status, body = _response(connection)
    connection.close()
    assert status == 202
    assert body["name"] == "big.txt"
    assert Document.objects.get().name == "big.txt"
