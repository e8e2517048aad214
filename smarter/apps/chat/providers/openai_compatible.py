"""OpenAI, or any server speaking its Chat Completions protocol, through LangChain's ChatOpenAI.

Every provider object holds one caller's key and base URL, passed explicitly: no module-level
client, no `openai.api_key`, no environment variables, so concurrent turns of different
accounts can never send each other's credentials (the original set `openai.api_key` per
request, a race under concurrency).

The HTTP client and the LangChain model object behind a provider are kept between turns, one
per (base URL, key) and event loop (`clients.py`): building them per call cost more CPU than
the rest of the gateway's work, and a kept client reuses its connections. A client that
`http_async_client` hands in is used instead and left open. Cancelling the consuming task (a
client that disconnected) still closes the upstream connection at once: a connection whose
response was not read to the end is closed, never returned to the pool, so the upstream stops
generating tokens nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from smarter.apps.chat.providers import clients
from smarter.apps.chat.providers.base import (
    Completed,
    Message,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)
from smarter.lib.errors import SmarterError, UpstreamError, UpstreamTimeout
from smarter.lib.outbound import OutboundRefused

OPENAI_BASE_URL = "https://api.openai.com/v1"

# Some local servers ignore the key; the SDK still needs one, and must never fall back to
# reading OPENAI_API_KEY from the environment, which may belong to someone else.
NO_KEY = "no-key"

_MAX_MESSAGE_CHARS = 300

try:  # openai>=3 runs on httpx2, an API-identical fork; errors may come from either library.
    import httpx2

    _TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (
        TimeoutError,
        httpx.TimeoutException,
        httpx2.TimeoutException,
    )
    _HTTP_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on the installed SDK
    _TIMEOUT_ERRORS = (TimeoutError, httpx.TimeoutException)
    _HTTP_ERRORS = (httpx.HTTPError,)


class OpenAICompatibleProvider:
    """A `ChatProvider` for one endpoint and one key (an account's, or the platform's)."""

    def __init__(
        self,
        *,
        name: str = "openai",
        api_key: str | None,
        base_url: str | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        max_retries: int = 0,
        guarded: bool = False,
    ) -> None:
        self.name = name
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self._api_key = api_key or NO_KEY
        self._http_async_client = http_async_client
        # An account's own endpoint: every connection passes the outbound guard.
        self.guarded = guarded
        # Retries multiply the wait of a user who is watching; the pipeline decides instead.
        self.max_retries = max_retries

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleProvider(name={self.name!r}, base_url={self.base_url!r})"

    # --- the interface ---

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        try:
            model = self._model(request)
            async with asyncio.timeout(request.timeout):
                message = await model.ainvoke(_to_langchain(request.messages))
        except Exception as error:
            raise self._translate(error, request) from error
        assert isinstance(message, AIMessage)
        return self._reply(request, message)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        text: list[str] = []
        # Tool calls arrive as fragments keyed by their index in the answer.
        fragments: dict[int, dict[str, str]] = {}
        usage: Usage | None = None
        finish_reason: str | None = None
        model_name = request.model
        try:
            model = self._model(request)
        except Exception as error:
            raise self._translate(error, request) from error
        chunks = model.astream(_to_langchain(request.messages)).__aiter__()
        try:
            while True:
                try:
                    # A bound per event, not for the whole answer: see ProviderRequest.timeout.
                    async with asyncio.timeout(request.timeout):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as error:
                    raise self._translate(error, request) from error
                if not isinstance(chunk, AIMessageChunk):
                    continue
                for piece in chunk.tool_call_chunks:
                    slot = fragments.setdefault(piece.get("index") or 0, {"id": "", "name": "", "args": ""})
                    slot["id"] = slot["id"] or (piece.get("id") or "")
                    slot["name"] = slot["name"] or (piece.get("name") or "")
                    slot["args"] += piece.get("args") or ""
                if chunk.usage_metadata:
                    usage = _usage(chunk.usage_metadata)
                metadata = chunk.response_metadata or {}
                finish_reason = metadata.get("finish_reason") or finish_reason
                model_name = metadata.get("model_name") or model_name
                delta = _text(chunk.content)
                if delta:
                    text.append(delta)
                    yield TextDelta(delta)
        finally:
            # Closing the LangChain stream closes the HTTP response, also when the consumer
            # was cancelled mid-stream.
            with contextlib.suppress(Exception):
                await chunks.aclose()
        calls = tuple(
            ToolCall.from_raw(slot["id"], slot["name"], slot["args"]) for _index, slot in sorted(fragments.items())
        )
        for call in calls:
            yield ToolCallReady(call)
        content = "".join(text)
        if usage is None:
            usage = _estimated_usage(request, content, calls)
        yield Completed(ProviderReply(content, calls, usage, model_name, self.name, finish_reason))

    # --- building ---

    def _model(self, request: ProviderRequest) -> Any:
        if self._http_async_client is not None:  # the caller's own client: nothing is kept
            model = self._build_model(request, self._http_async_client)
        else:
            # Everything the model object is built from is in the key; the API key as its digest.
            key = (
                self.base_url,
                clients.credentials_digest(self._api_key),
                self.guarded,
                request.model,
                request.temperature,
                request.max_tokens,
                request.timeout,
                self.max_retries,
            )
            model = clients.kept_model(key, lambda: self._build_model(request, self._kept_client()))
        if request.tools:
            return model.bind_tools(list(request.tools), tool_choice=request.tool_choice)
        return model

    def _kept_client(self) -> httpx.AsyncClient:
        return clients.upstream_client(base_url=self.base_url, api_key=self._api_key, guarded=self.guarded)

    def _build_model(self, request: ProviderRequest, client: httpx.AsyncClient) -> Any:
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            if _is_openai(self.base_url):
                options["max_tokens"] = request.max_tokens  # sent as max_completion_tokens
            else:
                # Compatible servers (llama.cpp, older vLLM, Ollama) know the classic name and
                # may silently ignore max_completion_tokens.
                options["extra_body"] = {"max_tokens": request.max_tokens}
        model = ChatOpenAI(
            model=request.model,
            api_key=SecretStr(self._api_key),
            base_url=self.base_url,
            organization=None,
            temperature=request.temperature,
            timeout=request.timeout,
            max_retries=self.max_retries,
            http_async_client=client,
            stream_usage=True,
            # The Chat Completions API is the one every compatible server speaks.
            use_responses_api=False,
            # Our own per-event bound applies (see stream()); this one reads the environment.
            stream_chunk_timeout=None,
            **options,
        )
        # The SDK fills the organization and project headers from OPENAI_ORG_ID and
        # OPENAI_PROJECT_ID; the operator's values must never reach another endpoint.
        model.root_async_client.organization = None
        model.root_async_client.project = None
        return model

    def _reply(self, request: ProviderRequest, message: AIMessage) -> ProviderReply:
        calls: list[ToolCall] = [
            ToolCall(call.get("id") or "", call["name"], dict(call["args"]), json.dumps(call["args"]))
            for call in message.tool_calls
        ]
        calls += [
            ToolCall.from_raw(call.get("id") or "", call.get("name") or "", call.get("args") or "")
            for call in message.invalid_tool_calls
        ]
        content = _text(message.content)
        metadata = message.response_metadata or {}
        usage = _usage(message.usage_metadata) if message.usage_metadata else _estimated_usage(request, content, calls)
        return ProviderReply(
            content,
            tuple(calls),
            usage,
            metadata.get("model_name") or request.model,
            self.name,
            metadata.get("finish_reason"),
        )

    # --- failures ---

    def _translate(self, error: BaseException, request: ProviderRequest) -> SmarterError:
        """The upstream failure as the error the client sees: 502 or 504, without secrets."""
        if isinstance(error, SmarterError):  # e.g. the outbound guard refused the address
            return error
        context: dict[str, Any] = {"provider": self.name, "model": request.model}
        if isinstance(error, OutboundRefused):
            # The guarded client refused the account's base URL (a private address, say): the
            # reason names only what the account itself configured.
            return UpstreamError(
                f"The LLM provider '{self.name}' is refused as a destination: {error}", context=context
            )
        if isinstance(error, (openai.APITimeoutError, *_TIMEOUT_ERRORS)):
            return UpstreamTimeout(
                f"The LLM provider '{self.name}' did not answer within {request.timeout:g} seconds.",
                context=context,
            )
        if isinstance(error, openai.APIStatusError):
            context["upstreamStatus"] = error.status_code
            detail = self._summarise(error)
            return UpstreamError(
                f"The LLM provider '{self.name}' answered HTTP {error.status_code}: {detail}",
                context=context,
            )
        if isinstance(error, (openai.APIConnectionError, *_HTTP_ERRORS)):
            return UpstreamError(
                f"The LLM provider '{self.name}' could not be reached; check its base URL and that it is running.",
                context=context,
            )
        if isinstance(error, openai.OpenAIError):
            return UpstreamError(
                f"The LLM provider '{self.name}' sent an answer that could not be read.", context=context
            )
        raise error

    def _summarise(self, error: openai.APIStatusError) -> str:
        body = error.body
        message: Any = None
        if isinstance(body, dict):
            message = body.get("message")
            nested = body.get("error")
            if message is None and isinstance(nested, dict):
                message = nested.get("message")
            elif message is None and nested:
                message = nested
        if not message:
            message = error.message
        text = " ".join(str(message).split())
        return _redact(text, self._api_key)[:_MAX_MESSAGE_CHARS] or "no detail given."


def _is_openai(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").endswith("openai.com")


_SECRET_PATTERNS = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


def _redact(text: str, api_key: str) -> str:
    # Some providers echo part of a rejected key; never pass any of it on.
    if api_key and api_key != NO_KEY:
        text = text.replace(api_key, "[redacted]")
    return _SECRET_PATTERNS.sub("[redacted]", text)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block if isinstance(block, str) else str(block.get("text") or "")
            for block in content
            if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")
        )
    return ""


def _usage(metadata: Any) -> Usage:
    prompt = int(metadata.get("input_tokens") or 0)
    completion = int(metadata.get("output_tokens") or 0)
    total = int(metadata.get("total_tokens") or prompt + completion)
    return Usage(prompt, completion, total)


def _estimated_usage(request: ProviderRequest, content: str, calls: Any) -> Usage:
    # Some compatible servers report no usage; billing still needs numbers, marked as estimates.
    completion_text = content + "".join(call.name + call.raw_arguments for call in calls)
    return Usage.of(estimate_prompt_tokens(request), estimate_tokens(completion_text), estimated=True)


def _to_langchain(messages: Any) -> list[BaseMessage]:
    converted: list[BaseMessage] = []
    for message in messages:
        assert isinstance(message, Message)
        if message.role == "system":
            converted.append(SystemMessage(message.content))
        elif message.role == "user":
            converted.append(HumanMessage(message.content))
        elif message.role == "tool":
            converted.append(ToolMessage(message.content, tool_call_id=message.tool_call_id or ""))
        else:
            converted.append(
                AIMessage(
                    message.content,
                    tool_calls=[
                        {"id": call.id, "name": call.name, "args": call.arguments, "type": "tool_call"}
                        for call in message.tool_calls
                        if call.error is None
                    ],
                    invalid_tool_calls=[
                        {
                            "id": call.id,
                            "name": call.name,
                            "args": call.raw_arguments,
                            "error": call.error,
                            "type": "invalid_tool_call",
                        }
                        for call in message.tool_calls
                        if call.error is not None
                    ],
                )
            )
    return converted
