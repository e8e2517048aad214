"""A scriptable OpenAI Chat Completions server on loopback, for tests and benchmarks.

It is a real HTTP/1.1 server on asyncio streams, so the code under test drives the real
clients (the platform's provider, the `openai` SDK) over a real socket: headers, SSE framing, timeouts and
disconnects behave as they do against a production endpoint. One event loop holds thousands of
idle connections, so hundreds of concurrent slow streams cost almost no CPU.

In a test (the server runs in a background thread with its own event loop):

    with OpenAIStub() as stub:
        stub.enqueue(text_reply("Hello there."), tool_calls_reply(("lookup", {"sku": 7})))
        ...  # point a client at stub.url with any API key
        assert stub.chat_requests[0].authorization == "Bearer sk-test"

As a process, for benchmarks (every request gets the default reply):

    python -m smarter.testing.openai_stub --port 18001 --delay-ms 1000

Endpoints: `POST /v1/chat/completions` (plain JSON, or SSE `chat.completion.chunk`s ending with
`data: [DONE]` when `stream` is true, with a usage chunk when `stream_options.include_usage`)
and `GET /v1/models`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

DEFAULT_TEXT = "Hello from the Smarter stub model."
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
_PIECES = re.compile(r"\s*\S+\s*|\s+")


# --- the script ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptedToolCall:
    """One function call the stub model makes. `arguments` as a string is sent verbatim."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class ScriptedReply:
    """What the stub answers to one chat completion request.

    `delay` waits before the status line; `chunk_delay` waits between SSE events (streaming
    only). `hang` never answers; `hang_after_chunks` streams that many events, then goes silent.
    Both end only when the client disconnects or the stub stops. `status` other than 200
    answers an OpenAI-style error body carrying `error_message`. Token counts default to an
    estimate of about 4 characters per token.

    `cut_after` breaks the answer off: a stream after that many SSE events (the finish chunk and
    `[DONE]` never come), a plain answer after that many bytes of its JSON body. The connection
    is then dropped mid-body, as a crashed upstream or proxy would; with `cut_cleanly` the body
    ends properly instead (the last chunk of a chunked stream; a Content-Length of what was sent),
    so only the missing end of the answer tells that it is incomplete.
    """

    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    status: int = 200
    error_message: str = ""
    error_type: str = "server_error"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    chunk_delay: float = 0.0
    hang: bool = False
    hang_after_chunks: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cut_after: int | None = None
    cut_cleanly: bool = False


def text_reply(text: str, **options: Any) -> ScriptedReply:
    """The model answers `text`; streamed word by word."""
    return ScriptedReply(text=text, **options)


def tool_calls_reply(
    *calls: ScriptedToolCall | tuple[str, dict[str, Any] | str], text: str = "", **options: Any
) -> ScriptedReply:
    """The model asks for these function calls, all in one round."""
    scripted = tuple(call if isinstance(call, ScriptedToolCall) else ScriptedToolCall(*call) for call in calls)
    return ScriptedReply(text=text, tool_calls=scripted, **options)


def error_reply(status: int, message: str, *, error_type: str | None = None, **options: Any) -> ScriptedReply:
    """The upstream fails with `status` and an OpenAI-style error body."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    return ScriptedReply(status=status, error_message=message, error_type=error_type or default_type, **options)


def hang_reply(**options: Any) -> ScriptedReply:
    """The upstream accepts the request and never answers."""
    return ScriptedReply(hang=True, **options)


# --- the record ---------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the stub received and what became of it.

    `connection` numbers the TCP connection it came on (requests on a kept-alive connection
    share it). `outcome` is `pending` while answering, then `completed`, `cut` when the reply's
    `cut_after` broke it off, or `disconnected` when the client
    went away before the answer was complete (a cancelled stream, a client-side timeout). It
    settles just after the last byte is sent, so a test reading it right after its client
    returned waits for it: `stub.wait_for(lambda: record.outcome == "completed")`.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    connection: int
    received_at: float
    finished_at: float | None = None
    outcome: str = "pending"
    events_sent: int = 0

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path == CHAT_PATH

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []


def estimate_tokens(text: str) -> int:
    """About 4 characters per token, at least 1: close enough for billing tests."""
    return max(1, math.ceil(len(text) / 4))


# --- the server ---------------------------------------------------------------------------------


class _Disconnected(Exception):
    """The client closed the connection while the stub was answering."""


class _Cut(Exception):
    """The scripted reply broke its answer off (`cut_after`); `clean`: the HTTP message itself
    ended properly, so the connection may be kept."""

    def __init__(self, *, clean: bool) -> None:
        super().__init__("cut")
        self.clean = clean


class OpenAIStub:
    """The stub server. Use as a context manager (background thread) or `await start_async()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_reply: ScriptedReply | None = None,
        models: Sequence[str] = ("gpt-4o-mini", "stub-model"),
        record_limit: int | None = 10_000,
    ) -> None:
        self.host = host
        self.port = port
        self.default_reply = default_reply or text_reply(DEFAULT_TEXT)
        self.models = tuple(models)
        self._script: deque[ScriptedReply] = deque()
        self._records: deque[RecordedRequest] = deque(maxlen=record_limit)
        # The loop thread writes the record while the test thread reads it and waits on it.
        self._changed = threading.Condition()
        self._served = 0
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._connection_count = 0
        self._errors: list[str] = []

    # --- scripting and inspection (any thread) ---

    @property
    def url(self) -> str:
        """The base URL to give a client: `http://127.0.0.1:<port>/v1`."""
        return f"http://{self.host}:{self.port}/v1"

    def enqueue(self, *replies: ScriptedReply) -> None:
        """Answer the next chat requests with these replies, in order; then the default reply."""
        with self._changed:
            self._script.extend(replies)

    @property
    def pending_replies(self) -> int:
        with self._changed:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._records)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.is_chat]

    @property
    def errors(self) -> list[str]:
        """Unexpected failures inside the stub; empty unless the stub itself is broken."""
        with self._changed:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds (checked whenever the record changes) or `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def wait_for_disconnect(self, timeout: float = 5.0) -> RecordedRequest | None:
        """The first request whose client went away, waiting up to `timeout` for one."""

        def disconnected() -> list[RecordedRequest]:
            return [request for request in self._records if request.outcome == "disconnected"]

        self.wait_for(lambda: bool(disconnected()), timeout)
        with self._changed:
            found = disconnected()
        return found[0] if found else None

    def _touch(self, mutate: Callable[[], None]) -> None:
        with self._changed:
            mutate()
            self._changed.notify_all()

    # --- lifecycle ---

    async def start_async(self) -> OpenAIStub:
        """Listen on the current event loop; `port=0` picks a free port (read it from `url`)."""
        # A deep backlog: benchmarks open hundreds of connections at once.
        self._server = await asyncio.start_server(self._handle_connection, self.host, self.port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        while self._connections:
            tasks = list(self._connections)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def start(self) -> OpenAIStub:
        """Run the server in a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            loop.close()

        self._thread = threading.Thread(target=run, name="openai-stub", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- HTTP ---

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._connection_count += 1
        connection = self._connection_count
        try:
            while await self._serve_one(reader, writer, connection):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # Only `aclose` cancels these tasks; ending quietly keeps asyncio's stream machinery
            # from logging a cancelled handler as an error.
            pass
        except Exception as error:
            # A bug of the stub itself: kept for `errors`, so a test can fail on it.
            failure = f"{type(error).__name__}: {error}"
            self._touch(lambda: self._errors.append(failure))
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            # Last, so that `aclose` waits for connections that are still closing.
            self._connections.discard(task)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: int) -> bool:
        """Read and answer one request; True to keep the connection for the next one."""
        request_line = await reader.readline()
        if not request_line:
            return False
        method, target, _version = request_line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length") or 0))
        path = target.split("?", 1)[0].rstrip("/")
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        record = RecordedRequest(method, path, headers, body, connection, received_at=time.monotonic())
        self._touch(lambda: self._records.append(record))

        # While answering, a pending read tells at once when the client hangs up, even in the
        # middle of a delay. HTTP/1.1 clients send nothing more before the answer is complete.
        hangup = asyncio.ensure_future(reader.read(1))
        hangup.add_done_callback(lambda future: future.cancelled() or future.exception())
        keep_alive = headers.get("connection", "").lower() != "close"
        outcome = "completed"
        try:
            await self._answer(record, writer, hangup, keep_alive)
        except (_Disconnected, ConnectionError):
            self._finish(record, "disconnected")
            return False
        except _Cut as cut:
            if not cut.clean:
                self._finish(record, "cut")
                return False
            outcome = "cut"
        finally:
            if not hangup.done():
                hangup.cancel()
                # The reader accepts one waiter at a time: let the watcher finish leaving before
                # the next request is read from the same connection.
                await asyncio.wait({hangup})
        self._finish(record, outcome)
        # A byte read by the watcher would be the start of a pipelined request: close instead.
        return keep_alive and hangup.cancelled()

    def _finish(self, record: RecordedRequest, outcome: str) -> None:
        def mutate() -> None:
            record.outcome = outcome
            record.finished_at = time.monotonic()

        self._touch(mutate)

    async def _answer(
        self,
        record: RecordedRequest,
        writer: asyncio.StreamWriter,
        hangup: asyncio.Future[bytes],
        keep_alive: bool,
    ) -> None:
        if record.path == MODELS_PATH:
            if record.method != "GET":
                return await self._send_error(writer, 405, "Use GET.", "invalid_request_error", keep_alive)
            models = [
                {"id": model, "object": "model", "created": 0, "owned_by": "smarter-stub"} for model in self.models
            ]
            return await self._send_json(writer, 200, {"object": "list", "data": models}, keep_alive)
        if record.path != CHAT_PATH:
            return await self._send_error(
                writer, 404, f"Unknown path {record.path}.", "invalid_request_error", keep_alive
            )
        if record.method != "POST":
            return await self._send_error(writer, 405, "Use POST.", "invalid_request_error", keep_alive)
        if not isinstance(record.body, dict) or not isinstance(record.body.get("messages"), list):
            return await self._send_error(
                writer,
                400,
                "The body must be JSON with a messages list.",
                "invalid_request_error",
                keep_alive,
            )

        with self._changed:
            reply = self._script.popleft() if self._script else self.default_reply
            self._served += 1
            number = self._served

        if reply.hang:
            await self._pause(None, hangup)
        if reply.delay and await self._pause(reply.delay, hangup):
            raise _Disconnected
        if reply.status != 200:
            return await self._send_error(
                writer, reply.status, reply.error_message, reply.error_type, keep_alive, reply.headers
            )
        if record.stream:
            return await self._stream(record, reply, number, writer, hangup, keep_alive)
        completion = self._completion(record, reply, number)
        if reply.cut_after is not None:
            return await self._send_cut_json(writer, completion, reply)
        return await self._send_json(writer, 200, completion, keep_alive, reply.headers)

    async def _pause(self, seconds: float | None, hangup: asyncio.Future[bytes]) -> bool:
        """Wait `seconds` (forever when None); True, at once, if the client hangs up meanwhile."""
        if not hangup.done():
            await asyncio.wait({hangup}, timeout=seconds)
        if hangup.done() and seconds is None:
            raise _Disconnected
        return hangup.done()

    # --- bodies ---

    def _usage(self, record: RecordedRequest, reply: ScriptedReply) -> dict[str, int]:
        body = record.body if isinstance(record.body, dict) else {}
        prompt_text = json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
        completion_text = reply.text + "".join(call.name + call.arguments_json for call in reply.tool_calls)
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else estimate_tokens(prompt_text)
        completion = (
            reply.completion_tokens if reply.completion_tokens is not None else estimate_tokens(completion_text)
        )
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @staticmethod
    def _call_id(number: int, index: int, call: ScriptedToolCall) -> str:
        return call.id or f"call_{number}_{index}"

    def _completion(self, record: RecordedRequest, reply: ScriptedReply, number: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": self._call_id(number, index, call),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for index, call in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-stub-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": record.body.get("model", "stub-model"),
            "system_fingerprint": "fp_stub",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": self._usage(record, reply),
        }

    def _chunks(self, record: RecordedRequest, reply: ScriptedReply, number: int) -> Iterable[dict[str, Any]]:
        """The SSE payloads of a streamed answer: role, text pieces, tool call pieces, finish, usage."""
        options = record.body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        base = {
            "id": f"chatcmpl-stub-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": record.body.get("model", "stub-model"),
            "system_fingerprint": "fp_stub",
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            payload = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        yield chunk({"role": "assistant", "content": ""})
        for piece in _PIECES.findall(reply.text):
            yield chunk({"content": piece})
        for index, call in enumerate(reply.tool_calls):
            opening = {
                "index": index,
                "id": self._call_id(number, index, call),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield chunk({"tool_calls": [opening]})
            # Arguments arrive in fragments, as real models send them, to exercise reassembly.
            arguments = call.arguments_json
            step = max(1, math.ceil(len(arguments) / 3))
            for start in range(0, len(arguments), step):
                fragment = {"index": index, "function": {"arguments": arguments[start : start + step]}}
                yield chunk({"tool_calls": [fragment]})
        yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
        if include_usage:
            yield {**base, "choices": [], "usage": self._usage(record, reply)}

    async def _stream(
        self,
        record: RecordedRequest,
        reply: ScriptedReply,
        number: int,
        writer: asyncio.StreamWriter,
        hangup: asyncio.Future[bytes],
        keep_alive: bool,
    ) -> None:
        head = [
            "HTTP/1.1 200 OK",
            "Content-Type: text/event-stream; charset=utf-8",
            "Cache-Control: no-cache",
            "Transfer-Encoding: chunked",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        payloads = [f"data: {json.dumps(payload)}\n\n" for payload in self._chunks(record, reply, number)]
        payloads.append("data: [DONE]\n\n")
        for index, payload in enumerate(payloads):
            if reply.cut_after is not None and index == reply.cut_after:
                if reply.cut_cleanly:
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                raise _Cut(clean=reply.cut_cleanly)
            if reply.hang_after_chunks is not None and index == reply.hang_after_chunks:
                await self._pause(None, hangup)
            if index and reply.chunk_delay and await self._pause(reply.chunk_delay, hangup):
                raise _Disconnected
            if hangup.done():
                raise _Disconnected
            data = payload.encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            record.events_sent += 1
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        keep_alive: bool,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        data = json.dumps(payload).encode()
        head = [
            f"HTTP/1.1 {status} {_reason(status)}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in extra_headers),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()

    async def _send_cut_json(self, writer: asyncio.StreamWriter, payload: Any, reply: ScriptedReply) -> None:
        """The first `cut_after` bytes of the JSON answer, announced whole (then dropped) or, with
        `cut_cleanly`, announced and sent as they are."""
        assert reply.cut_after is not None
        data = json.dumps(payload).encode()
        sent = data[: reply.cut_after]
        head = [
            "HTTP/1.1 200 OK",
            "Content-Type: application/json",
            f"Content-Length: {len(sent) if reply.cut_cleanly else len(data)}",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + sent)
        await writer.drain()
        raise _Cut(clean=reply.cut_cleanly)

    async def _send_error(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        message: str,
        error_type: str,
        keep_alive: bool,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        await self._send_json(writer, status, body, keep_alive, extra_headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# --- as a process -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server for Smarter benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--delay-ms", type=int, default=0, help="wait before answering each request")
    parser.add_argument("--chunk-delay-ms", type=int, default=0, help="wait between streamed events")
    parser.add_argument("--reply", default=DEFAULT_TEXT, help="the text every request gets")
    parser.add_argument("--record-limit", type=int, default=1000, help="requests kept in memory")
    options = parser.parse_args(argv)
    reply = text_reply(options.reply, delay=options.delay_ms / 1000, chunk_delay=options.chunk_delay_ms / 1000)
    asyncio.run(
        _serve(OpenAIStub(host=options.host, port=options.port, default_reply=reply, record_limit=options.record_limit))
    )


async def _serve(stub: OpenAIStub) -> None:
    await stub.start_async()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    # The parent process reads this line to learn the port.
    print(f"openai-stub listening on {stub.url}", flush=True)
    await stopping.wait()
    await stub.aclose()


if __name__ == "__main__":
    main()
