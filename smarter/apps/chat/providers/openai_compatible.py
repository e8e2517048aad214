"""OpenAI, or any server speaking its Chat Completions protocol (Groq, Together, vLLM, Ollama,
llama.cpp's server), spoken directly over HTTP.

The protocol is small and stable, and it is the one this platform itself serves: one JSON body
out, one JSON answer (or server-sent events) back. Speaking it directly over a kept aiohttp
session costs a small fraction of the CPU of going through an SDK and a framework's chat model,
and on a gateway that CPU is paid on every turn (docs/performance.md, "The floor under a turn").

Every provider object holds one caller's key and base URL, passed explicitly: no module-level
client, no environment variables (no OPENAI_API_KEY, OPENAI_ORG_ID or proxy settings), so
concurrent turns of different accounts can never send each other's credentials.

The HTTP session behind a provider is kept between turns, one per (base URL, key) and event loop
(`clients.py`), and leased for each request so that it is never closed under one. A session that
`http_session` hands in is used instead and left open.
Cancelling the consuming task (a client that disconnected) closes the upstream connection at
once: a response that was not read to the end closes its connection instead of returning it to
the pool, so the upstream stops generating tokens nobody reads.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from smarter.apps.chat.providers import clients
from smarter.apps.chat.providers.base import (
    Completed,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
    with_consumed,
)
from smarter.lib.errors import SmarterError, UpstreamError, UpstreamTimeout
from smarter.lib.outbound import OutboundRefused, check_url_before_lookup
from smarter.lib.redaction import REDACTED, Redactor

OPENAI_BASE_URL = "https://api.openai.com/v1"

# Some local servers ignore the key; a Bearer token is still sent, and it is never one read from
# the environment, which may belong to someone else.
NO_KEY = "no-key"

_MAX_MESSAGE_CHARS = 300
_TOOL_CHOICE_WORDS = frozenset({"auto", "none", "required"})


class _Unreadable(Exception):
    """The upstream answered 2xx with something that is not the protocol."""


class OpenAICompatibleProvider:
    """A `ChatProvider` for one endpoint and one key (an account's, or the platform's)."""

    def __init__(
        self,
        *,
        name: str = "openai",
        api_key: str | None,
        base_url: str | None = None,
        http_session: aiohttp.ClientSession | None = None,
        max_retries: int = 0,
        guarded: bool = False,
    ) -> None:
        self.name = name
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self._url = f"{self.base_url}/chat/completions"
        self._api_key = api_key or NO_KEY
        self._headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._http_session = http_session
        # An account's own endpoint: every connection passes the outbound guard.
        self.guarded = guarded
        # Retries multiply the wait of a user who is watching; the pipeline decides instead.
        # Kept for the interface; a retry of a model call is never made here.
        self.max_retries = max_retries

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleProvider(name={self.name!r}, base_url={self.base_url!r})"

    # --- the interface ---

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        body = self._body(request, stream=False)
        status = 0
        try:
            async with asyncio.timeout(request.timeout):
                self._check_destination()
                with self._lease() as session:
                    async with session.post(
                        self._url, data=body, headers=self._headers, allow_redirects=False
                    ) as response:
                        status = response.status
                        payload = await response.read()
        except Exception as error:
            failure = self._translate(error, request)
            if 200 <= status < 300:
                # Accepted, then the answer broke on its way (cut short, too slow): the upstream
                # has read the prompt.
                with_consumed(failure, _prompt_only(request))
            raise failure from error
        if status >= 400:
            raise self._status_error(status, payload, request)
        try:
            answer = json.loads(payload)
            return self._reply(request, answer)
        except (_Unreadable, ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise with_consumed(self._unreadable(request), _prompt_only(request)) from error

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        body = self._body(request, stream=True)
        # Held until the answer is read or dropped: the kept session is not closed under it.
        lease = self._lease()
        try:
            # A bound per event, not for the whole answer: see ProviderRequest.timeout.
            async with asyncio.timeout(request.timeout):
                self._check_destination()
                response = await lease.session.post(self._url, data=body, headers=self._headers, allow_redirects=False)
        except Exception as error:
            lease.release()
            raise self._translate(error, request) from error
        except BaseException:
            lease.release()
            raise
        progress = _Progress()
        try:
            if response.status >= 400:
                try:
                    async with asyncio.timeout(request.timeout):
                        payload = await response.read()
                except Exception:
                    payload = b""
                raise self._status_error(response.status, payload, request)
            async for event in self._events(request, response, progress):
                yield event
        except SmarterError as error:
            if response.status < 400:
                # The answer had started: what it delivered so far is billed.
                with_consumed(error, progress.consumed(request))
            raise
        finally:
            if progress.complete:
                response.release()  # read to the end: the connection goes back to the pool
            else:
                # Failed, or the consumer was cancelled mid-stream: the connection is closed, and
                # the upstream stops generating tokens nobody reads.
                response.close()
            lease.release()

    async def _events(
        self, request: ProviderRequest, response: aiohttp.ClientResponse, progress: _Progress
    ) -> AsyncIterator[ProviderEvent]:
        text, fragments = progress.text, progress.fragments
        finish_reason: str | None = None
        model_name = request.model
        done = False
        while True:
            try:
                async with asyncio.timeout(request.timeout):
                    raw = await response.content.readline()
            except Exception as error:
                whole = done or finish_reason is not None
                if whole and isinstance(error, (aiohttp.ClientPayloadError, TimeoutError)):
                    # The answer is whole (a finish reason came); only the end of the stream broke.
                    progress.broken = True
                    break
                raise self._translate(error, request) from error
            if not raw:
                break  # the end of the answer
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if done or not line.startswith("data:"):
                # Comments, event names, keep-alives, separators; after [DONE], the rest is read
                # to its end so that the connection goes back to the pool.
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                continue
            try:
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    raise _Unreadable
            except (ValueError, _Unreadable) as error:
                raise self._unreadable(request) from error
            if chunk.get("error"):
                # Some servers report a failure inside an already started stream.
                raise self._upstream_message_error(None, chunk, request)
            model_name = chunk.get("model") or model_name
            if chunk.get("usage"):
                progress.usage = _usage(chunk["usage"])
            for choice in chunk.get("choices") or ():
                finish_reason = choice.get("finish_reason") or finish_reason
                delta = choice.get("delta") or {}
                for piece in delta.get("tool_calls") or ():
                    slot = fragments.setdefault(piece.get("index") or 0, {"id": "", "name": "", "args": ""})
                    function = piece.get("function") or {}
                    slot["id"] = slot["id"] or (piece.get("id") or "")
                    slot["name"] = slot["name"] or (function.get("name") or "")
                    slot["args"] += function.get("arguments") or ""
                content = _text(delta.get("content"))
                if content:
                    text.append(content)
                    yield TextDelta(content)
        if not done and finish_reason is None:
            # A stream that stops without saying the answer is over (no finish reason, no
            # [DONE]) was cut short: what arrived is a fragment, never a finished answer.
            raise UpstreamError(
                f"The LLM provider '{self.name}' ended its answer before it was complete.",
                context={"provider": self.name, "model": request.model},
            )
        calls = tuple(
            ToolCall.from_raw(slot["id"], slot["name"], slot["args"]) for _index, slot in sorted(fragments.items())
        )
        for call in calls:
            yield ToolCallReady(call)
        content = "".join(text)
        usage = progress.usage or _estimated_usage(request, content, calls)
        progress.complete = not progress.broken
        yield Completed(ProviderReply(content, calls, usage, model_name, self.name, finish_reason))

    # --- building ---

    def _lease(self) -> clients.Lease:
        if self._http_session is not None:  # the caller's own session
            return clients.Lease.of(self._http_session)
        return clients.lease(base_url=self.base_url, api_key=self._api_key, guarded=self.guarded)

    def _check_destination(self) -> None:
        # A guarded session checks every name it resolves; a host written as an address is never
        # resolved, so it is checked here, before each request.
        if self.guarded:
            check_url_before_lookup(self._url)

    def _body(self, request: ProviderRequest, *, stream: bool) -> bytes:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [message.as_openai() for message in request.messages],
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI's own API has renamed the field; compatible servers (llama.cpp, older vLLM,
            # Ollama) know only the classic name and may silently ignore the new one.
            body["max_completion_tokens" if _is_openai(self.base_url) else "max_tokens"] = request.max_tokens
        if request.tools:
            body["tools"] = list(request.tools)
            if request.tool_choice:
                body["tool_choice"] = _tool_choice(request.tool_choice)
        for name, value in request.parameters.items():
            if name == "parallel_tool_calls" and not request.tools:
                continue  # OpenAI refuses it without tools (the last round of a turn offers none)
            body.setdefault(name, value)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body, ensure_ascii=False).encode()

    def _reply(self, request: ProviderRequest, answer: Any) -> ProviderReply:
        if not isinstance(answer, dict) or not answer.get("choices"):
            raise _Unreadable
        choice = answer["choices"][0]
        message = choice.get("message") or {}
        calls = tuple(
            ToolCall.from_raw(
                call.get("id") or "",
                (call.get("function") or {}).get("name") or "",
                (call.get("function") or {}).get("arguments") or "",
            )
            for call in message.get("tool_calls") or ()
        )
        content = _text(message.get("content"))
        usage = _usage(answer["usage"]) if answer.get("usage") else _estimated_usage(request, content, calls)
        return ProviderReply(
            content, calls, usage, answer.get("model") or request.model, self.name, choice.get("finish_reason")
        )

    # --- failures ---

    def _translate(self, error: BaseException, request: ProviderRequest) -> SmarterError:
        """A failure to get an answer, as the error the client sees: 502 or 504, without secrets."""
        if isinstance(error, SmarterError):
            return error
        context: dict[str, Any] = {"provider": self.name, "model": request.model}
        if isinstance(error, OutboundRefused):
            # The guarded client refused the account's base URL (a private address, say): the
            # reason names only what the account itself configured.
            return UpstreamError(
                f"The LLM provider '{self.name}' is refused as a destination: {error}", context=context
            )
        if isinstance(error, TimeoutError):
            return UpstreamTimeout(
                f"The LLM provider '{self.name}' did not answer within {request.timeout:g} seconds.",
                context=context,
            )
        if isinstance(error, aiohttp.ClientPayloadError):
            return UpstreamError(
                f"The LLM provider '{self.name}' broke off its answer before it was complete.", context=context
            )
        if isinstance(error, (aiohttp.ClientError, OSError)):
            return UpstreamError(
                f"The LLM provider '{self.name}' could not be reached; check its base URL and that it is running.",
                context=context,
            )
        raise error

    def _status_error(self, status: int, payload: bytes, request: ProviderRequest) -> SmarterError:
        try:
            body: Any = json.loads(payload) if payload else None
        except ValueError:
            body = payload.decode(errors="replace")
        return self._upstream_message_error(status, body, request)

    def _upstream_message_error(self, status: int | None, body: Any, request: ProviderRequest) -> SmarterError:
        context: dict[str, Any] = {"provider": self.name, "model": request.model}
        detail = self._summarise(body)
        if status is None:
            return UpstreamError(f"The LLM provider '{self.name}' failed mid-answer: {detail}", context=context)
        context["upstreamStatus"] = status
        return UpstreamError(f"The LLM provider '{self.name}' answered HTTP {status}: {detail}", context=context)

    def _unreadable(self, request: ProviderRequest) -> SmarterError:
        return UpstreamError(
            f"The LLM provider '{self.name}' sent an answer that could not be read.",
            context={"provider": self.name, "model": request.model},
        )

    def _summarise(self, body: Any) -> str:
        """The upstream's own message: `{"error": {"message"}}` (OpenAI), `{"error": "..."}` or
        `{"message"}` (other servers), or a plain text body."""
        message: Any = body
        if isinstance(body, dict):
            nested = body.get("error")
            message = body.get("message")
            if message is None and isinstance(nested, dict):
                message = nested.get("message")
            elif message is None and nested:
                message = nested
        # Scrubbed before and after the spaces are folded, and before the cut, so no form of the
        # key (nor its first characters) survives.
        text = " ".join(_redact(str(message or ""), self._api_key).split())
        return _redact(text, self._api_key)[:_MAX_MESSAGE_CHARS] or "no detail given."


def _is_openai(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").endswith("openai.com")


def _tool_choice(choice: str | dict[str, Any]) -> Any:
    """`auto`, `none` and `required` as they are; any other word names the one tool to call;
    OpenAI's own object as it is."""
    if isinstance(choice, dict):
        return choice
    if choice in _TOOL_CHOICE_WORDS:
        return choice
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}


_SECRET_PATTERNS = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


def _redact(text: str, api_key: str) -> str:
    # Some providers echo a rejected key, whole (in any of its forms) or in part; never pass any
    # of it on.
    if api_key and api_key != NO_KEY:
        text = Redactor.of(api_key).text(text)
    return _SECRET_PATTERNS.sub(REDACTED, text)


def _text(content: Any) -> str:
    """Message content: a string, or (some servers) a list of parts of which the text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block if isinstance(block, str) else str(block.get("text") or "")
            for block in content
            if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")
        )
    return ""


def _usage(reported: Any) -> Usage:
    prompt = int(reported.get("prompt_tokens") or 0)
    completion = int(reported.get("completion_tokens") or 0)
    total = int(reported.get("total_tokens") or prompt + completion)
    return Usage(prompt, completion, total)


@dataclass
class _Progress:
    """What a streamed answer has delivered so far: billed when the stream fails midway."""

    text: list[str] = field(default_factory=list)
    # Tool calls arrive as fragments keyed by their index in the answer.
    fragments: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: Usage | None = None
    complete: bool = False  # read to its end: the connection may be kept
    broken: bool = False  # whole, but the connection broke after the finish reason

    def consumed(self, request: ProviderRequest) -> Usage:
        if self.usage is not None:
            return self.usage
        completion = "".join(self.text) + "".join(slot["name"] + slot["args"] for slot in self.fragments.values())
        return Usage.of(estimate_prompt_tokens(request), estimate_tokens(completion), estimated=True)


def _prompt_only(request: ProviderRequest) -> Usage:
    return Usage.of(estimate_prompt_tokens(request), 0, estimated=True)


def _estimated_usage(request: ProviderRequest, content: str, calls: Any) -> Usage:
    # Some compatible servers report no usage; billing still needs numbers, marked as estimates.
    completion_text = content + "".join(call.name + call.raw_arguments for call in calls)
    return Usage.of(estimate_prompt_tokens(request), estimate_tokens(completion_text), estimated=True)
