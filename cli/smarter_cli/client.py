"""HTTP to the Smarter server: the `/api/v1/cli/` verbs and the chat stream.

Like the original client, every cli verb is a POST (the server accepts GET for reads too, but
one method keeps proxies and journals uniform). Transport failures become `Unreachable`
(exit 3) and non-2xx answers become `ServerRefused` (exit 1) carrying the error envelope.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from smarter_cli.errors import Envelope, ServerRefused, Unreachable, UsageFailure, refusal_from_body

CONNECT_TIMEOUT = 10.0
# A verb answers quickly; a chat turn may wait on a slow model between two tokens.
READ_TIMEOUT = 60.0
CHAT_READ_TIMEOUT = 180.0


def read_timeout(default: float) -> float:
    """SMARTER_CLI_TIMEOUT (seconds) bounds the wait for an answer: for slow links, and for tests."""
    value = os.environ.get("SMARTER_CLI_TIMEOUT")
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise UsageFailure(f"SMARTER_CLI_TIMEOUT must be a number of seconds, not {value!r}.") from None
    if seconds <= 0:
        raise UsageFailure("SMARTER_CLI_TIMEOUT must be more than 0 seconds.")
    return seconds


def user_agent() -> str:
    from smarter_cli.version import client_version

    return f"smarter-cli/{client_version()}"


class SmarterClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            headers={
                "Authorization": f"Token {api_key}",
                "User-Agent": user_agent(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(read_timeout(READ_TIMEOUT), connect=CONNECT_TIMEOUT),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SmarterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the cli verbs ------------------------------------------------------------------------
    def cli_url(self, verb: str, kind: str | None = None) -> str:
        path = f"{self.base_url}/api/v1/cli/{verb}/"
        if kind is not None:
            path += f"{quote(kind, safe='')}/"
        return path

    def cli(
        self,
        verb: str,
        kind: str | None = None,
        *,
        name: str | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        query: dict[str, str] | None = None,
    ) -> Envelope:
        params = {**({"name": name} if name else {}), **(query or {})} or None
        headers = {"Content-Type": content_type} if content_type else None
        url = self.cli_url(verb, kind)
        response = self._send("POST", url, params=params, content=content, headers=headers)
        body = _json_or_none(response)
        if not isinstance(body, dict) or "data" not in body:
            raise ServerRefused(
                f"The server at {self.base_url} answered {verb} with something that is not a Smarter "
                "response; check the base URL.",
                status=response.status_code,
            )
        thing = str(body.get("thing") or "")
        return Envelope(data=body["data"], thing=thing, metadata=body.get("metadata") or {})

    def apply(self, manifest_yaml: bytes, *, dry_run: bool = False) -> Envelope:
        """Apply one manifest; with `dry_run`, what it would change (action, diff, warnings), unwritten."""
        query = {"dryRun": "true"} if dry_run else None
        return self.cli("apply", content=manifest_yaml, content_type="application/yaml", query=query)

    # --- chat -----------------------------------------------------------------------------------
    def chat_url(self, chatbot: str) -> str:
        return f"{self.base_url}/api/v1/chatbots/{quote(chatbot, safe='')}/chat/"

    @contextmanager
    def chat_stream(self, chatbot: str, prompt: str, session_key: str | None) -> Iterator[httpx.Response]:
        """The open streaming response of one turn; refusals are raised before any byte is read."""
        body: dict[str, Any] = {"prompt": prompt, "stream": True}
        if session_key:
            body["session_key"] = session_key
        request = self._http.build_request(
            "POST",
            self.chat_url(chatbot),
            json=body,
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(read_timeout(CHAT_READ_TIMEOUT), connect=CONNECT_TIMEOUT),
        )
        with _transport_errors(self.base_url):
            response = self._http.send(request, stream=True)
        try:
            if response.status_code >= 300:
                with _transport_errors(self.base_url):
                    response.read()
                raise _refusal(response)
            try:
                yield response
            except httpx.TimeoutException:
                raise Unreachable(
                    f"The server at {self.base_url} stopped answering in the middle of the reply."
                ) from None
            except httpx.TransportError:
                raise Unreachable(
                    f"The server at {self.base_url} closed the connection before the reply was complete."
                ) from None
        finally:
            response.close()

    # --- knowledge bases ------------------------------------------------------------------------
    def knowledge_url(self, knowledge_base: str, *parts: str) -> str:
        path = "".join(f"{quote(part, safe='')}/" for part in (knowledge_base, *parts))
        return f"{self.base_url}/api/v1/knowledge/{path}"

    def upload_document(self, knowledge_base: str, path: Path, *, on_sent: Callable[[int], None]) -> dict[str, Any]:
        """POST one file as multipart `file`; `on_sent` hears how many of its bytes have gone so far."""
        with path.open("rb") as opened:
            counted = _CountingReader(opened, on_sent)
            return self._json_data(
                "POST", self.knowledge_url(knowledge_base, "documents"), files={"file": (path.name, counted)}
            )

    def add_document(self, knowledge_base: str, body: dict[str, str]) -> dict[str, Any]:
        """A document from text (`{"name", "text"}`) or from a URL the server fetches (`{"url"}`)."""
        return self._json_data("POST", self.knowledge_url(knowledge_base, "documents"), json=body)

    def document(self, knowledge_base: str, document_id: str) -> dict[str, Any]:
        return self._json_data("GET", self.knowledge_url(knowledge_base, "documents", document_id))

    def search(self, knowledge_base: str, *, query: str, top_k: int | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"query": query}
        if top_k is not None:
            body["topK"] = top_k
        data = self._json_data("POST", self.knowledge_url(knowledge_base, "search"), json=body)
        results = data.get("results")
        return [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []

    # --- evaluation suites ----------------------------------------------------------------------
    def evals_url(self, suite: str, *parts: str) -> str:
        path = "".join(f"{quote(part, safe='')}/" for part in (suite, *parts))
        return f"{self.base_url}/api/v1/evals/{path}"

    def start_run(self, suite: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start a run of the suite: `{"id", "status"}` (the server answers 202 at once)."""
        return self._json_data("POST", self.evals_url(suite, "runs"), json=body)

    def eval_run(self, suite: str, run_id: int) -> dict[str, Any]:
        """A run with its counts and every case attempt's result."""
        return self._json_data("GET", self.evals_url(suite, "runs", str(run_id)))

    def compare_runs(self, suite: str, base: int, head: int) -> dict[str, Any]:
        return self._json_data("GET", self.evals_url(suite, "compare"), params={"base": base, "head": head})

    # --- plumbing -----------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        with _transport_errors(self.base_url):
            response = self._http.request(method, url, **kwargs)
        if response.status_code >= 300:
            raise _refusal(response)
        return response

    def _json_data(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The object an endpoint answers, inside the `data` envelope or bare (both are in use)."""
        response = self._send(method, url, **kwargs)
        body = _json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            return dict(body["data"])
        if isinstance(body, dict) and body:
            return body
        raise ServerRefused(
            f"The server at {self.base_url} answered with something that is not a Smarter response; "
            "check the base URL.",
            status=response.status_code,
        )


class _CountingReader:
    """A binary file that reports its position as httpx reads it into the request body, so the
    progress bar follows the bytes actually handed to the connection."""

    def __init__(self, file: IO[bytes], on_position: Callable[[int], None]) -> None:
        self._file = file
        self._on_position = on_position

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._on_position(self._file.tell())
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self._file.seek(offset, whence)
        self._on_position(position)
        return position

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        # httpx sizes the body from the file's descriptor: the request gets a Content-Length.
        return self._file.fileno()


@contextmanager
def _transport_errors(base_url: str) -> Iterator[None]:
    """httpx's transport exceptions as the client's own failures, worded for a person."""
    try:
        yield
    except httpx.TimeoutException:
        raise Unreachable(f"The server at {base_url} did not answer in time.") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise UsageFailure(f"The base URL {base_url!r} is not usable: {error}.") from None
    except httpx.TransportError as error:
        raise Unreachable(f"Cannot reach the server at {base_url}: {_reason(error)}.") from None


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    # httpx repeats the OS error, e.g. "[Errno 111] Connection refused": keep the words.
    if "] " in text and text.startswith("["):
        text = text.split("] ", 1)[1]
    return text


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _refusal(response: httpx.Response) -> ServerRefused:
    refusal = refusal_from_body(response.status_code, response.reason_phrase, _json_or_none(response), response.text)
    if response.status_code == 401:
        refusal.message += " Check the API key (smarter configure, SMARTER_API_KEY or --api-key)."
    retry_after = response.headers.get("Retry-After", "")
    if response.status_code in (429, 503) and retry_after.isdigit():
        refusal.message += f" Retry in {retry_after} s."
    return refusal
