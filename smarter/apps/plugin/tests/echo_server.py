"""Real loopback servers that echo the credentials they receive, as careless or hostile targets do.

`echo_server()` is an HTTP server whose every route quotes the request's credentials back (the
`Authorization` header, the `X-Secret-Token` header and a basic pair decoded) in one of the ways
a real API does: a JSON body, a JSON body written entirely in \\u escapes, an error body, a text
or HTML body, URL-encoded, in a redirect's Location, or so deep in a long body that a cut falls
through the middle of it.

`postgres_echo_server(password)` speaks just enough of PostgreSQL's protocol to ask a client for
its password in clear text and to answer with an error that quotes it back in several forms.
"""

from __future__ import annotations

import base64
import html
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

LONG_TEXT = 8000  # api_runner.MAX_TEXT_CHARACTERS: where a text result is cut
ERROR_SNIPPET = 200  # api_runner.MAX_ERROR_CHARACTERS: where an error body is cut


@dataclass
class EchoServer:
    url: str
    port: int
    requests: list[dict[str, str]] = field(default_factory=list)


class _EchoHandler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json", **headers: str) -> None:
        raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _credentials(self) -> dict[str, str | None]:
        authorization = self.headers.get("Authorization")
        decoded = None
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
        return {
            "authorization": authorization,
            "token": self.headers.get("X-Secret-Token"),
            "basicPair": decoded,
        }

    def _secret_words(self) -> str:
        return " ".join(value for value in self._credentials().values() if value)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.recorded.append({"path": self.path, **dict(self.headers.items())})
        credentials = self._credentials()
        words = self._secret_words()
        route = parts.path
        if route == "/json":
            self._send(200, json.dumps({"youSent": credentials, "headers": dict(self.headers.items())}))
        elif route == "/json-escaped":
            # Every character of every string as \\uXXXX: valid JSON a text search would miss.
            escaped = "".join(f"\\u{ord(char):04x}" for char in words)
            self._send(200, '{"youSent": "' + escaped + '"}')
        elif route == "/status/401":
            self._send(401, json.dumps({"error": {"message": f"Invalid credentials: {words}"}}))
        elif route == "/status/403":
            self._send(403, f"Forbidden. You sent:\n  {words}\n", "text/plain")
        elif route == "/text":
            self._send(200, f"Your request carried {words}.", "text/plain; charset=utf-8")
        elif route == "/html":
            self._send(200, f"<p>Hello {html.escape(words)}</p>", "text/html; charset=utf-8")
        elif route == "/url-encoded":
            encoded = "&".join(f"{name}={quote(value or '', safe='')}" for name, value in credentials.items())
            self._send(200, f"next=/login?{encoded}&plus={quote_plus(words)}", "text/plain")
        elif route == "/redirect":
            location = "/landing?" + "&".join(
                f"{name}={quote(value, safe='')}" for name, value in credentials.items() if value
            )
            self._send(302, "", "text/plain", Location=location)
        elif route == "/landing":
            self._send(200, json.dumps({"landedWith": parse_qs(parts.query)}))
        elif route == "/long-text":
            # The first credential starts a few characters before the cut and ends after it.
            first = next(value for value in credentials.values() if value)
            filler = "x" * (LONG_TEXT - len(first) // 2)
            self._send(200, f"{filler}{first} and after it {words}", "text/plain")
        elif route == "/long-error":
            first = next(value for value in credentials.values() if value)
            filler = "y" * (ERROR_SNIPPET - len(first) // 2)
            self._send(500, f"{filler}{first} {words}", "text/plain")
        else:
            self._send(404, json.dumps({"error": "no such route"}))


@contextmanager
def echo_server() -> Iterator[EchoServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    server.recorded = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    port = server.server_address[1]
    info = EchoServer(url=f"http://127.0.0.1:{port}", port=port, requests=server.recorded)  # type: ignore[attr-defined]
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()


# --- PostgreSQL ---------------------------------------------------------------------------------
_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


@dataclass
class PasswordCatcher:
    port: int
    received: list[str] = field(default_factory=list)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


def _serve_postgres_client(connection: socket.socket, catcher: PasswordCatcher) -> None:
    with connection:
        while True:  # SSL and GSS encryption requests first: declined, then the startup message
            length, code = struct.unpack("!ii", _read_exactly(connection, 8))
            if code in (_SSL_REQUEST, _GSS_REQUEST):
                connection.sendall(b"N")
                continue
            _read_exactly(connection, length - 8)
            break
        connection.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        _kind, length = struct.unpack("!ci", _read_exactly(connection, 5))
        password = _read_exactly(connection, length - 4).rstrip(b"\x00").decode()
        catcher.received.append(password)
        message = (
            f"password authentication failed: you sent {password} "
            f"(url {quote(password, safe='')}, json {json.dumps(password)[1:-1]})"
        )
        fields = b"SFATAL\x00VFATAL\x00C28P01\x00M" + message.encode() + b"\x00\x00"
        connection.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)


@contextmanager
def postgres_echo_server() -> Iterator[PasswordCatcher]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    catcher = PasswordCatcher(port=listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(5)
            threading.Thread(target=_serve_one, args=(connection,), daemon=True).start()

    def _serve_one(connection: socket.socket) -> None:
        with suppress(ConnectionError, OSError, struct.error):
            _serve_postgres_client(connection, catcher)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield catcher
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


@contextmanager
def silent_listener() -> Iterator[tuple[int, Any]]:
    """A port that accepts connections and records each: a member's "own server" that must never
    be reached. Yields the port and a function that says how many connections arrived."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)

    def arrivals() -> int:
        count = 0
        while True:
            try:
                connection, _ = listener.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    try:
        yield listener.getsockname()[1], arrivals
    finally:
        listener.close()
