"""A scriptable OpenAI Chat Completions server on loopback, for tests and benchmarks.

It is a real HTTP/1.1 server (aiohttp's web server), so the code under test drives the real
clients (the platform's provider, the `openai` SDK) over a real socket: headers, SSE framing,
timeouts and disconnects behave as they do against a production endpoint. One event loop holds
thousands of idle connections, so hundreds of concurrent slow streams cost almost no CPU.

In a test (the server runs in a background thread with its own event loop):

    with OpenAIStub() as stub:
        stub.enqueue(text_reply("Hello there."), tool_calls_reply(("lookup", {"sku": 7})))
        ...  # point a client at stub.url with any API key
        assert stub.chat_requests[0].authorization == "Bearer sk-test"

As a process, for benchmarks (every request gets the default reply):

    python -m smarter.testing.openai_stub --port 18001 --delay-ms 1000

Endpoints: `POST /v1/chat/completions` (plain JSON, or SSE `chat.completion.chunk`s ending with
`data: [DONE]` when `stream` is true, with a usage chunk when `stream_options.include_usage`),
`POST /v1/embeddings` and `GET /v1/models`.

A reply is scripted in order (`enqueue`) or per request (`respond_with`): text, function calls
(`tool_calls_reply`), a structured output (`json_reply`), an error, a delay or a broken answer.
`calls_when_offered` is a responder for a model that calls a client's tool when it is offered.

Embeddings are deterministic: a text's vector is the unit-length sum of one signed unit per
word, at a position its hash picks (so texts sharing words are close), unless a test set it with
`stub.set_embedding(text, vector)`. `enqueue_embeddings(error_reply(...))` scripts failures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import re
import signal
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

DEFAULT_TEXT = "Hello from the Smarter stub model."
CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
DEFAULT_EMBEDDING_DIMENSIONS = 32
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


def json_reply(value: Any, **options: Any) -> ScriptedReply:
    """The model answers `value` as JSON text: a structured output (`response_format`)."""
    return ScriptedReply(text=json.dumps(value), **options)


def offered_tools(request: RecordedRequest) -> list[str]:
    """The names of the tools a chat request offered the model, in order."""
    return [str((tool.get("function") or {}).get("name")) for tool in request.tools]


def calls_when_offered(
    name: str, arguments: dict[str, Any], then: ScriptedReply
) -> Callable[[RecordedRequest], ScriptedReply | None]:
    """A responder (`respond_with`) for a model that calls the tool `name` while it is offered and
    has no result for it yet, then answers `then`: the same script for every request, streamed or
    not, in any order."""

    def respond(request: RecordedRequest) -> ScriptedReply | None:
        answered = any(message.get("role") == "tool" for message in request.messages)
        if name in offered_tools(request) and not answered:
            return tool_calls_reply((name, arguments))
        return then

    return respond


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
    def is_embeddings(self) -> bool:
        return self.method == "POST" and self.path == EMBEDDINGS_PATH

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    def parameter(self, name: str) -> Any:
        """A parameter of the request's body as sent (`response_format`, `tool_choice`, ...)."""
        return self.body.get(name) if isinstance(self.body, dict) else None


def hashed_embedding(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> list[float]:
    """The stub's vector for `text`: one signed unit per word at a position its hash picks,
    summed and scaled to unit length (a text with no words gets the first axis)."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dimensions] += 1.0 if digest[4] % 2 == 0 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dimensions - 1)
    return [value / norm for value in vector]


def estimate_tokens(text: str) -> int:
    """About 4 characters per token, at least 1: close enough for billing tests."""
    return max(1, math.ceil(len(text) / 4))


# --- the server ---------------------------------------------------------------------------------

# Request bodies the stub reads whole; aiohttp's default (1 MiB) is below a long conversation.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Connections numbered at once; the oldest numbers are forgotten beyond it (a long benchmark).
MAX_NUMBERED_CONNECTIONS = 65_536
# At stop, a handler still answering (a hang, a slow stream) is cancelled after this long.
STOP_GRACE_SECONDS = 0.1


class _Cut(Exception):
    """The scripted reply breaks its answer off (`cut_after`) by dropping the connection."""


@dataclass
class _Exchange:
    """One request being answered: its record, and the response once its head is sent."""

    request: web.Request
    record: RecordedRequest
    response: web.StreamResponse | None = None


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
        embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.default_reply = default_reply or text_reply(DEFAULT_TEXT)
        self.models = tuple(models)
        self._script: deque[ScriptedReply] = deque()
        self.embedding_dimensions = embedding_dimensions
        self._embedding_script: deque[ScriptedReply] = deque()
        self._embeddings: dict[str, list[float]] = {}
        self._records: deque[RecordedRequest] = deque(maxlen=record_limit)
        # The loop thread writes the record while the test thread reads it and waits on it.
        self._changed = threading.Condition()
        self._served = 0
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connection_numbers: OrderedDict[Any, int] = OrderedDict()
        self._connection_count = 0
        self._errors: list[str] = []
        self._responder: Callable[[RecordedRequest], ScriptedReply | None] | None = None

    # --- scripting and inspection (any thread) ---

    @property
    def url(self) -> str:
        """The base URL to give a client: `http://127.0.0.1:<port>/v1`."""
        return f"http://{self.host}:{self.port}/v1"

    def enqueue(self, *replies: ScriptedReply) -> None:
        """Answer the next chat requests with these replies, in order; then the default reply."""
        with self._changed:
            self._script.extend(replies)

    def respond_with(self, responder: Callable[[RecordedRequest], ScriptedReply | None] | None) -> None:
        """Answer each chat request with `responder(request)` where it gives a reply (before the
        script): answers chosen by the prompt, for clients that ask concurrently, in any order."""
        self._responder = responder

    def enqueue_embeddings(self, *replies: ScriptedReply) -> None:
        """Answer the next embeddings requests with these (an error, a delay); then vectors."""
        with self._changed:
            self._embedding_script.extend(replies)

    def set_embedding(self, text: str, vector: Sequence[float]) -> None:
        """Answer `vector` for exactly `text` (the crafted corpora of ranking tests)."""
        with self._changed:
            self._embeddings[text] = [float(value) for value in vector]

    def embedding_of(self, text: str) -> list[float]:
        """The vector the stub answers for `text`."""
        with self._changed:
            known = self._embeddings.get(text)
        return list(known) if known is not None else hashed_embedding(text, self.embedding_dimensions)

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
    def embedding_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.is_embeddings]

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
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        application.router.add_route("*", "/{path:.*}", self._handle)
        # `handler_cancellation`: a client that hangs up cancels the handler at once, even in the
        # middle of a delay, which is how a disconnect is recorded.
        self._runner = web.AppRunner(
            application, access_log=None, handler_cancellation=True, shutdown_timeout=STOP_GRACE_SECONDS
        )
        await self._runner.setup()
        # A deep backlog: benchmarks open hundreds of connections at once.
        await web.TCPSite(self._runner, self.host, self.port, backlog=4096).start()
        self.port = int(self._runner.addresses[0][1])
        self._stopping = False
        return self

    async def aclose(self) -> None:
        if self._runner is not None:
            self._stopping = True
            await self._runner.cleanup()
            self._runner = None

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

    def _connection_number(self, request: web.Request) -> int:
        """The TCP connection a request came on, numbered from 1 in order of first request.

        A connection is known by the client's address and port, which no other open connection
        shares (aiohttp's per-connection objects cannot be weakly referenced, so this is the
        key that needs no bookkeeping when a connection closes).
        """
        transport = request.transport
        key = transport.get_extra_info("peername") if transport is not None else None
        number = self._connection_numbers.get(key)
        if number is None:
            self._connection_count += 1
            number = self._connection_numbers[key] = self._connection_count
            if len(self._connection_numbers) > MAX_NUMBERED_CONNECTIONS:
                self._connection_numbers.popitem(last=False)
        return number

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.raw_path.split("?", 1)[0].rstrip("/")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = RecordedRequest(
            request.method, path, headers, body, self._connection_number(request), received_at=time.monotonic()
        )
        self._touch(lambda: self._records.append(record))
        exchange = _Exchange(request, record)
        try:
            outcome = await self._answer(exchange)
        except _Cut:
            self._finish(record, "cut")
            if request.transport is not None:
                # Dropped mid-body, as a crashed upstream or proxy would: what was written is
                # flushed, then the connection closes without the end of the message.
                request.transport.close()
        except ConnectionError:
            # The client went away while the answer was being written.
            self._finish(record, "disconnected")
        except asyncio.CancelledError:
            # The client went away while the stub waited (a delay, a hang); or the stub stops.
            if not self._stopping:
                self._finish(record, "disconnected")
            raise
        except Exception as error:
            # A bug of the stub itself: kept for `errors`, so a test can fail on it.
            failure = f"{type(error).__name__}: {error}"
            self._touch(lambda: self._errors.append(failure))
            raise
        else:
            self._finish(record, outcome)
        # Whatever was sent is what the client gets: aiohttp only ends what is still open.
        return exchange.response or web.Response(status=499)

    def _finish(self, record: RecordedRequest, outcome: str) -> None:
        def mutate() -> None:
            record.outcome = outcome
            record.finished_at = time.monotonic()

        self._touch(mutate)

    async def _answer(self, exchange: _Exchange) -> str:
        """Send the whole answer; its outcome, `completed` or (`cut_cleanly`) `cut`."""
        record = exchange.record
        if record.path == MODELS_PATH:
            if record.method != "GET":
                return await self._send_error(exchange, 405, "Use GET.", "invalid_request_error")
            models = [
                {"id": model, "object": "model", "created": 0, "owned_by": "smarter-stub"} for model in self.models
            ]
            return await self._send_json(exchange, 200, {"object": "list", "data": models})
        if record.path == EMBEDDINGS_PATH:
            return await self._answer_embeddings(exchange)
        if record.path != CHAT_PATH:
            return await self._send_error(exchange, 404, f"Unknown path {record.path}.", "invalid_request_error")
        if record.method != "POST":
            return await self._send_error(exchange, 405, "Use POST.", "invalid_request_error")
        if not isinstance(record.body, dict) or not isinstance(record.body.get("messages"), list):
            return await self._send_error(
                exchange, 400, "The body must be JSON with a messages list.", "invalid_request_error"
            )

        chosen = self._responder(record) if self._responder is not None else None
        with self._changed:
            if chosen is None:
                chosen = self._script.popleft() if self._script else self.default_reply
            reply = chosen
            self._served += 1
            number = self._served

        if reply.hang:
            await _forever()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return await self._send_error(exchange, reply.status, reply.error_message, reply.error_type, reply.headers)
        if record.stream:
            return await self._stream(exchange, reply, number)
        completion = self._completion(record, reply, number)
        if reply.cut_after is not None:
            return await self._send_cut_json(exchange, completion, reply)
        return await self._send_json(exchange, 200, completion, reply.headers)

    async def _answer_embeddings(self, exchange: _Exchange) -> str:
        record = exchange.record
        if record.method != "POST":
            return await self._send_error(exchange, 405, "Use POST.", "invalid_request_error")
        body = record.body if isinstance(record.body, dict) else {}
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(item, str) for item in inputs):
            return await self._send_error(
                exchange, 400, "The body must be JSON with an input string or list of strings.", "invalid_request_error"
            )
        with self._changed:
            reply = self._embedding_script.popleft() if self._embedding_script else None
        if reply is not None:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.status != 200:
                return await self._send_error(
                    exchange, reply.status, reply.error_message, reply.error_type, reply.headers
                )
        data = [
            {"object": "embedding", "index": index, "embedding": self.embedding_of(text)}
            for index, text in enumerate(inputs)
        ]
        tokens = sum(estimate_tokens(text) for text in inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", "stub-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return await self._send_json(exchange, 200, payload)

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

    async def _open(self, exchange: _Exchange, response: web.StreamResponse) -> None:
        """Send the status line and headers; from here on the response belongs to this exchange."""
        exchange.response = response
        await response.prepare(exchange.request)

    async def _stream(self, exchange: _Exchange, reply: ScriptedReply, number: int) -> str:
        record = exchange.record
        response = web.StreamResponse(status=200)
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        response.headers["Cache-Control"] = "no-cache"
        _add_headers(response, reply.headers)
        response.enable_chunked_encoding()
        await self._open(exchange, response)
        payloads = [f"data: {json.dumps(payload)}\n\n" for payload in self._chunks(record, reply, number)]
        payloads.append("data: [DONE]\n\n")
        for index, payload in enumerate(payloads):
            if reply.cut_after is not None and index == reply.cut_after:
                if not reply.cut_cleanly:
                    raise _Cut
                await response.write_eof()  # the last chunk: the body ends properly
                return "cut"
            if reply.hang_after_chunks is not None and index == reply.hang_after_chunks:
                await _forever()
            if index and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            # One SSE event per HTTP chunk, written at once.
            await response.write(payload.encode())
            record.events_sent += 1
        await response.write_eof()
        return "completed"

    async def _send_json(
        self,
        exchange: _Exchange,
        status: int,
        payload: Any,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> str:
        response = web.Response(
            status=status, reason=_reason(status), body=json.dumps(payload).encode(), content_type="application/json"
        )
        _add_headers(response, extra_headers)
        await self._open(exchange, response)
        await response.write_eof()
        return "completed"

    async def _send_cut_json(self, exchange: _Exchange, payload: Any, reply: ScriptedReply) -> str:
        """The first `cut_after` bytes of the JSON answer, announced whole (then dropped) or, with
        `cut_cleanly`, announced and sent as they are."""
        assert reply.cut_after is not None
        data = json.dumps(payload).encode()
        sent = data[: reply.cut_after]
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.content_length = len(sent) if reply.cut_cleanly else len(data)
        await self._open(exchange, response)
        await response.write(sent)
        if not reply.cut_cleanly:
            raise _Cut
        await response.write_eof()
        return "cut"

    async def _send_error(
        self,
        exchange: _Exchange,
        status: int,
        message: str,
        error_type: str,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> str:
        body = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        return await self._send_json(exchange, status, body, extra_headers)


def _add_headers(response: web.StreamResponse, headers: Sequence[tuple[str, str]]) -> None:
    for name, value in headers:
        response.headers.add(name, value)


async def _forever() -> None:
    """Wait until cancelled: the client hangs up, or the stub stops."""
    await asyncio.get_running_loop().create_future()


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
