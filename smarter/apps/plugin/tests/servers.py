"""A real HTTP server on loopback for REST plugin and SSRF tests (no mocks cross the network)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    url: str
    port: int
    requests: list[Recorded] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode())

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        self.server.recorded.append(record)
        path = parts.path
        if path.startswith("/users/"):
            self._json({"user": path.split("/")[2], "query": record.query, "method": self.command})
        elif path == "/echo":
            self._json(
                {
                    "method": self.command,
                    "json": json.loads(body) if body else None,
                    "query": record.query,
                    "authorization": self.headers.get("Authorization"),
                    "xApiKey": self.headers.get("X-Api-Key"),
                    "accept": self.headers.get("Accept"),
                }
            )
        elif path == "/list":
            self._json([{"id": number} for number in range(50)])
        elif path == "/text":
            self._send(200, b"plain words", "text/plain; charset=utf-8")
        elif path.startswith("/status/"):
            code = int(path.split("/")[2])
            self._send(code, b'{"detail": "nope"}')
        elif path == "/slow":
            time.sleep(3)
            self._json({"late": True})
        elif path == "/big":
            self._send(200, b"[" + b"1," * (1024 * 1024) + b"1]")
        elif path == "/chunked-big":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(2048):
                    self.wfile.write(b" " * 1024)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif path == "/notjson":
            self._send(200, b"<html>hello</html>", "application/json")
        elif path == "/binary":
            self._send(200, b"\x00\x01\x02", "application/octet-stream")
        elif path == "/loop":
            self._send(302, b"", "text/plain", Location="/loop")
        elif path == "/redirect":
            self._send(302, b"", "text/plain", Location=record.query["to"][0])
        else:
            self._json({"ok": True, "path": path})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


@contextmanager
def loopback_server(host: str = "127.0.0.1") -> Iterator[LoopbackServer]:
    server = ThreadingHTTPServer((host, 0), _Handler)
    server.daemon_threads = True
    server.recorded = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    port = server.server_address[1]
    info = LoopbackServer(url=f"http://{host}:{port}", port=port)
    info.requests = server.recorded  # type: ignore[attr-defined]
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()
