"""A small stand-in Smarter server on loopback for the parts the real server does not have yet.

It speaks the documented contract (API.md): the chat endpoint with its server-sent events
(for failures the real server cannot be made to produce on demand), and the cli `deploy`,
`undeploy` and `describe` verbs of a chatbot, with the error envelope.
Its replies are deterministic so tests can assert exact output:

- chat answers `You said: <prompt> (turn <n> of <session>)`, n counting the session's turns;
- the prompt `weather` makes a tool call first; `fail` ends with an `error` event; `slow` sends
  `Hel` then waits for `release` before the rest, so a test can see tokens arrive one by one;
  `drop` sends one token of a chunked body, then closes the connection without ending it;
  `unterminated` ends the body in the middle of its last event (before the blank line).

How the event stream is written can be changed for a test: `line_ending` (LF, CRLF or CR),
`split_size` (the stream is sent in pieces of that many bytes, each flushed on its own, so they
split lines, line endings and UTF-8 characters), and `chatter` (comments, `id:` and `retry:`
fields, events of unknown types and `data` split over several lines between the real events).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "standin-key"
CHATBOT = "support"


def envelope(error_class: str, status: int, description: str, **extra: Any) -> dict[str, Any]:
    return {"errorClass": error_class, "status": status, "description": description, "context": {}, **extra}


class StandInServer:
    def __init__(self) -> None:
        self.sessions: dict[str, list[str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.stream_supported = True
        self.line_ending = "\n"
        self.split_size: int | None = None
        self.chatter = False
        # Deployment: the chatbot settles after `settle_after` describes (None: never settles).
        self.deployed = False
        self.dns_status = "Not started"
        self.settle_after: int | None = 2
        self.describes_since_change = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll: `stop` waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    # --- behaviour ------------------------------------------------------------------------------
    def new_session_key(self) -> str:
        with self._lock:
            key = f"session-{len(self.sessions) + 1}"
            self.sessions[key] = []
            return key

    def chatbot_status(self) -> dict[str, Any]:
        with self._lock:
            self.describes_since_change += 1
            if self.settle_after is not None and self.describes_since_change >= self.settle_after:
                self.dns_status = "Verified" if self.deployed else "Not started"
            deployed = self.deployed and self.dns_status == "Verified"
            return {
                "deployed": deployed,
                "defaultHost": "support.1234-5678-9012.api.localhost",
                "defaultUrl": "http://support.1234-5678-9012.api.localhost:8000/",
                "customUrl": None,
                "sandboxUrl": "http://localhost:8000/dashboard/chatbots/support/sandbox/",
                "dnsVerificationStatus": self.dns_status,
            }

    def change_deployment(self, deployed: bool) -> None:
        with self._lock:
            self.deployed = deployed
            self.dns_status = "Verifying" if deployed else "Not started"
            self.describes_since_change = 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                stand_in.requests.append(
                    {"path": url.path, "query": url.query, "body": raw, "headers": dict(self.headers)}
                )
                if self.headers.get("Authorization") != f"Token {API_KEY}":
                    self.send_json(
                        401, envelope("NotAuthenticated", 401, "The API key is invalid, expired or revoked.")
                    )
                    return
                name = (parse_qs(url.query).get("name") or [""])[0]
                parts = [part for part in url.path.split("/") if part]
                if parts[:3] == ["api", "v1", "chatbots"] and len(parts) == 5 and parts[4] == "chat":
                    self.chat(parts[3], json.loads(raw or b"{}"))
                elif parts[:3] == ["api", "v1", "cli"] and len(parts) == 5 and parts[4].lower() == "chatbot":
                    self.cli(parts[3], name)
                else:
                    self.send_json(404, envelope("NotFound", 404, f"No API endpoint at {url.path}."))

            # --- the cli verbs of a chatbot -------------------------------------------------------
            def cli(self, verb: str, name: str) -> None:
                if name != CHATBOT:
                    self.not_found(name)
                    return
                if verb in ("deploy", "undeploy"):
                    stand_in.change_deployment(verb == "deploy")
                    self.send_json(200, self.success(verb, {"name": name, "requested": verb}))
                elif verb == "describe":
                    manifest = {
                        "apiVersion": "smarter.sh/v1",
                        "kind": "Chatbot",
                        "metadata": {"name": name},
                        "spec": {"config": {"provider": "offline"}},
                        "status": stand_in.chatbot_status(),
                    }
                    self.send_json(200, self.success(verb, manifest))
                else:
                    self.send_json(404, envelope("NotFound", 404, f"No cli verb {verb}."))

            def success(self, verb: str, data: Any) -> dict[str, Any]:
                return {
                    "data": data,
                    "api": "smarter.sh/v1",
                    "thing": "Chatbot",
                    "metadata": {"command": verb},
                }

            def not_found(self, name: str) -> None:
                body = envelope("NotFound", 404, f"Chatbot {name!r} was not found in your account.")
                body["context"] = {"kind": "Chatbot", "name": name}
                self.send_json(404, body)

            # --- chat -----------------------------------------------------------------------------
            def chat(self, chatbot: str, body: dict[str, Any]) -> None:
                if chatbot != CHATBOT:
                    self.not_found(chatbot)
                    return
                prompt = str(body.get("prompt") or "")
                session_key = body.get("session_key")
                if session_key and session_key not in stand_in.sessions:
                    self.send_json(
                        404,
                        {
                            **envelope("NotFound", 404, f"Chat session {session_key!r} was not found."),
                            "context": {"kind": "Chat", "session_key": session_key},
                        },
                    )
                    return
                if not session_key:
                    session_key = stand_in.new_session_key()
                history = stand_in.sessions[session_key]
                history.append(prompt)
                text = f"You said: {prompt} (turn {len(history)} of {session_key})"
                tool_calls = []
                if prompt == "weather":
                    tool_calls = [
                        {
                            "plugin": "weather",
                            "arguments": {"city": "Paris"},
                            "result": {"celsius": 21},
                            "ms": 12,
                        }
                    ]
                if prompt == "calculate":
                    # A built-in function: its call event names no plugin, only the tool.
                    tool_calls = [
                        {
                            "plugin": None,
                            "tool": "calculator",
                            "arguments": {"expression": "6*7"},
                            "result": 42,
                            "ms": 1,
                        }
                    ]
                if prompt == "slow":
                    text = "Hello there"
                done = {
                    "session_key": session_key,
                    "message": {"role": "assistant", "content": text},
                    "tool_calls": tool_calls,
                    "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8, "cost": 0},
                }
                if not body.get("stream") or not stand_in.stream_supported:
                    self.send_json(200, done)
                    return
                if prompt == "drop":
                    self.drop_mid_reply()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                if stand_in.split_size or stand_in.chatter or stand_in.line_ending != "\n":
                    self.send_in_pieces(self.whole_stream(prompt, text, tool_calls, done))
                    return
                self.send_raw(": the stream starts\n\n")
                if prompt == "fail":
                    self.send_event("token", {"text": "Let me "})
                    error = envelope(
                        "UpstreamError",
                        502,
                        "The model provider failed; try again.",
                        errors=[{"loc": "provider", "msg": "timed out"}],
                    )
                    self.send_event("error", error)
                    return
                for call in tool_calls:
                    # As the server sends them: the call with `tool` and `plugin` (None for a
                    # built-in function), the result under the plugin's or the function's name.
                    tool = call.get("tool") or call["plugin"]
                    self.send_event(
                        "tool_call", {"tool": tool, "plugin": call["plugin"], "arguments": call["arguments"]}
                    )
                    self.send_event(
                        "tool_result",
                        {"plugin": call["plugin"] or tool, "result": call["result"], "ms": call["ms"]},
                    )
                if prompt == "slow":
                    self.send_event("token", {"text": "Hel"})
                    stand_in.release.wait(timeout=20)
                    self.send_event("token", {"text": "lo there"})
                else:
                    words = text.split(" ")
                    for index, word in enumerate(words):
                        self.send_event("token", {"text": word if index == 0 else " " + word})
                if prompt == "unterminated":
                    self.send_raw("event: done\ndata: " + json.dumps(done) + "\n")
                    return
                # CRLF line endings for the last event: the format allows both.
                self.send_raw("event: done\r\ndata: " + json.dumps(done) + "\r\n\r\n")

            def whole_stream(
                self, prompt: str, text: str, tool_calls: list[dict[str, Any]], done: dict[str, Any]
            ) -> str:
                """The reply's events as one text, written as `line_ending` and `chatter` say."""
                chatter = stand_in.chatter
                lines: list[str] = [": the stream starts", ""]
                if chatter:
                    lines += ["retry: 3000", "id: 1", "event: ping", "data: {}", ""]

                def event(name: str, data: Any) -> None:
                    encoded = json.dumps(data, ensure_ascii=False)
                    if chatter:
                        # The format joins the data lines of one event with a newline: between
                        # the brace and the first key, JSON reads it as a space.
                        lines.extend([f"event: {name}", f"data: {encoded[:1]}", f"data:{encoded[1:]}"])
                    else:
                        lines.extend([f"event: {name}", f"data: {encoded}"])
                    if chatter:
                        lines.append(": a comment inside an event")
                    lines.append("")

                for call in tool_calls:
                    event("tool_call", {"plugin": call["plugin"], "arguments": call["arguments"]})
                    event("tool_result", {"plugin": call["plugin"], "result": call["result"], "ms": call["ms"]})
                for index, word in enumerate(text.split(" ")):
                    event("token", {"text": word if index == 0 else " " + word})
                    if chatter:
                        lines += [f"id: {index + 2}", "event: progress", "data: not json at all", ""]
                event("done", done)
                return stand_in.line_ending.join(lines) + stand_in.line_ending

            def send_in_pieces(self, stream: str) -> None:
                payload = stream.encode("utf-8")
                size = stand_in.split_size or len(payload)
                # Each piece its own TCP segment, as far as the sender decides.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for start in range(0, len(payload), size):
                    self.wfile.write(payload[start : start + size])
                    self.wfile.flush()
                    time.sleep(0.0001)

            def drop_mid_reply(self) -> None:
                """HTTP/1.1 chunked, one chunk, then the connection closes without the last chunk."""
                self.protocol_version = "HTTP/1.1"
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                frame = b'event: token\ndata: {"text": "Let me "}\n\n'
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()

            # --- plumbing -------------------------------------------------------------------------
            def send_event(self, event: str, data: Any) -> None:
                self.send_raw(f"event: {event}\ndata: {json.dumps(data)}\n\n")

            def send_raw(self, text: str) -> None:
                self.wfile.write(text.encode("utf-8"))
                self.wfile.flush()

            def send_json(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
