"""Real local servers the deployment tests talk to: a DNS server (dnslib), a stand-in for the
Kubernetes API that records what the official client sends, moto's server for Route53, and a tiny
web server for a page on another origin."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- DNS ----------------------------------------------------------------------------------------
class DnsServer:
    """Answers TXT queries from `txt` (name → values); anything else is NXDOMAIN."""

    def __init__(self) -> None:
        from dnslib import QTYPE, RCODE, RR, TXT
        from dnslib.server import BaseResolver, DNSServer

        records: dict[str, list[str]] = {}
        self.txt = records
        self.queries: list[str] = []
        queries = self.queries

        class Resolver(BaseResolver):  # type: ignore[misc]
            def resolve(self, request: Any, handler: Any) -> Any:
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                queries.append(name)
                if request.q.qtype == QTYPE.TXT and name in records:
                    for value in records[name]:
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=5))
                else:
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply

        self.port = free_port(socket.SOCK_DGRAM)
        self.server = DNSServer(Resolver(), port=self.port, address="127.0.0.1")

    def __enter__(self) -> DnsServer:
        self.server.start_thread()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()


# --- Kubernetes API stand-in ----------------------------------------------------------------------
_INGRESSES = re.compile(r"^/apis/networking\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/ingresses(?:/(?P<name>[^/?]+))?")


class KubernetesStandIn:
    """Ingresses kept in memory; every request recorded as (method, path, body). `fail_next`
    answers that many requests with a 500 first."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.fail_next = 0
        self.version = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str) -> None:
                self._answer(
                    code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}
                )

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path.split("?")[0]
                stand_in.requests.append((self.command, path, body))
                if stand_in.fail_next:
                    stand_in.fail_next -= 1
                    return self._status(500, "InternalError")
                match = _INGRESSES.match(path)
                if match is None:
                    return self._status(404, "NotFound")
                key = (match["ns"], match["name"] or (body or {}).get("metadata", {}).get("name", ""))
                if self.command == "GET":
                    if key not in stand_in.objects:
                        return self._status(404, "NotFound")
                    return self._answer(200, stand_in.objects[key])
                if self.command == "POST":
                    if key in stand_in.objects:
                        return self._status(409, "AlreadyExists")
                    return self._answer(201, stand_in._store(key, body))
                if self.command == "PUT":
                    if key not in stand_in.objects:
                        return self._status(404, "NotFound")
                    return self._answer(200, stand_in._store(key, body))
                if self.command == "DELETE":
                    if stand_in.objects.pop(key, None) is None:
                        return self._status(404, "NotFound")
                    return self._answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
                return self._status(405, "MethodNotAllowed")

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _store(self, key: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = json.loads(json.dumps(body))
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = stored
        return stored

    def __enter__(self) -> KubernetesStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- moto (Route53) ---------------------------------------------------------------------------------
class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MotoServer:
        # A free port may be taken by another test process before moto binds it: then moto exits,
        # and the other server would answer. Only moto's own answer counts; else another port.
        for _ in range(5):
            if self._started():
                return self
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError("moto_server did not start")

    def _started(self) -> bool:
        executable = Path(__file__).resolve().parents[4] / ".venv" / "bin" / "moto_server"
        self.process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                answer = httpx.get(f"{self.url}/moto-api/data.json", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if answer.status_code == 200 and self.process.poll() is None:
                return True
            break
        self.process.kill()
        self.process.wait(timeout=10)
        return False

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- a page on another origin -------------------------------------------------------------------------
class StaticPage:
    """Serves one HTML page at `/` on its own loopback port (another origin than the chatbot)."""

    def __init__(self, html: str) -> None:
        payload = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StaticPage:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
