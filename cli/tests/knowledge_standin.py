"""A stand-in of the knowledge endpoints of API.md on loopback, for what the real server cannot be
made to do on demand: a document that stays `processing` past any timeout, a document that fails
on cue, a search whose scores are known in advance.

Knowledge base `manual` exists; any other name answers 404. A document becomes `ready` after
`settle_after` reads of it (counted per document). Its content decides the rest:

- `FAIL` in the content: it ends `failed` with the error `The PDF is encrypted; upload it without
  a password.`;
- `SLOW` in the content: it stays `processing` forever;
- a file named `*.exe`: the upload answers 415.

The upload answers as API.md writes it (202, the bare `{"id", "name", "status"}`); a document is
read in the `data` envelope. The same content twice is the same document.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.standin import API_KEY, envelope

KNOWLEDGE_BASE = "manual"
FAILED_ERROR = "The PDF is encrypted; upload it without a password."
HITS = [
    {
        "document": "manual.md",
        "documentId": 1,
        "chunk": 3,
        "score": 0.91234,
        "text": "To reset the device,\nhold the power button for ten seconds until the light blinks twice.",
    },
    {"document": "faq.txt", "documentId": 2, "chunk": 0, "score": 0.5, "text": "Resetting keeps your settings."},
]


class KnowledgeStandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.documents: dict[int, dict[str, Any]] = {}
        self.reads: dict[int, int] = {}
        self.by_hash: dict[str, int] = {}
        self.settle_after = 2
        self.hits: list[dict[str, Any]] = list(HITS)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[str]:
        return [f"{request['method']} {request['path']}" for request in self.requests]

    # --- behaviour ------------------------------------------------------------------------------
    def add(self, name: str, content: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(content).hexdigest()
        with self._lock:
            if digest in self.by_hash:
                return self.documents[self.by_hash[digest]]
            document_id = len(self.documents) + 1
            document = {
                "id": document_id,
                "name": name,
                "status": "queued",
                "progress": 0,
                "chunks": 0,
                "error": "",
                "createdAt": "2026-12-06T10:00:00+00:00",
                "content": content,
            }
            self.documents[document_id] = document
            self.by_hash[digest] = document_id
            return document

    def read(self, document_id: int) -> dict[str, Any] | None:
        with self._lock:
            document = self.documents.get(document_id)
            if document is None:
                return None
            self.reads[document_id] = self.reads.get(document_id, 0) + 1
            content = document["content"]
            if b"SLOW" in content or self.reads[document_id] < self.settle_after:
                document.update(status="processing", progress=min(10 * self.reads[document_id], 90))
            elif b"FAIL" in content:
                document.update(status="failed", error=FAILED_ERROR)
            else:
                document.update(status="ready", progress=100, chunks=content.count(b"\n") + 1)
            return document

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def do_GET(self) -> None:
                self.route("GET")

            def do_POST(self) -> None:
                self.route("POST")

            def route(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                stand_in.requests.append(
                    {"method": method, "path": url.path, "body": raw, "headers": dict(self.headers)}
                )
                if self.headers.get("Authorization") != f"Token {API_KEY}":
                    self.send_json(
                        401, envelope("NotAuthenticated", 401, "The API key is invalid, expired or revoked.")
                    )
                    return
                parts = [part for part in url.path.split("/") if part]
                if parts[:3] != ["api", "v1", "knowledge"] or len(parts) < 5:
                    self.send_json(404, envelope("NotFound", 404, f"No API endpoint at {url.path}."))
                    return
                if parts[3] != KNOWLEDGE_BASE:
                    body = envelope("NotFound", 404, f"KnowledgeBase {parts[3]!r} was not found in your account.")
                    self.send_json(404, body)
                    return
                if method == "POST" and parts[4:] == ["documents"]:
                    self.upload(raw)
                elif method == "GET" and parts[4] == "documents" and len(parts) == 6:
                    self.document(parts[5])
                elif method == "POST" and parts[4:] == ["search"]:
                    query = json.loads(raw or b"{}")
                    top_k = int(query.get("topK") or 5)
                    self.send_json(200, {"data": {"results": stand_in.hits[:top_k]}})
                else:
                    self.send_json(405, envelope("MethodNotAllowed", 405, f"{method} is not allowed here."))

            def upload(self, raw: bytes) -> None:
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("multipart/form-data"):
                    name, content = self.file_part(content_type, raw)
                    if name.endswith(".exe"):
                        description = f"{name}: this type of file cannot be ingested; use txt, md, html, pdf or docx."
                        self.send_json(415, envelope("UnsupportedMediaType", 415, description))
                        return
                else:
                    body = json.loads(raw or b"{}")
                    if "url" in body:
                        name, content = body["url"].rsplit("/", 1)[-1], body["url"].encode()
                    else:
                        name, content = body["name"], body["text"].encode()
                document = stand_in.add(name, content)
                self.send_json(202, {"id": document["id"], "name": document["name"], "status": document["status"]})

            def file_part(self, content_type: str, raw: bytes) -> tuple[str, bytes]:
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {content_type}\r\n\r\n".encode() + raw
                )
                for part in message.iter_parts():
                    if part.get_param("name", header="content-disposition") == "file":
                        return str(part.get_filename()), bytes(part.get_payload(decode=True))
                return "", b""

            def document(self, document_id: str) -> None:
                document = stand_in.read(int(document_id)) if document_id.isdigit() else None
                if document is None:
                    self.send_json(404, envelope("NotFound", 404, f"Document {document_id} was not found."))
                    return
                shown = {key: value for key, value in document.items() if key != "content"}
                self.send_json(200, {"data": shown})

            def send_json(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
