"""Request ids, structured JSON logs and one access-log line per request.

The request id comes from a well-formed `X-Request-ID` header (so a proxy's id carries
through) or is generated; it is in every log line of the request and in the response header,
so a user quoting it lets an operator find the failure. Once a chat turn is recorded, its turn
id joins them. A Celery task carries the ids of whatever enqueued it (`task_headers_stamp`,
`task_context_restore`), so a worker's lines name the request that caused them.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from smarter.lib import metrics, tracing

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
account_var: contextvars.ContextVar[str] = contextvars.ContextVar("account", default="-")
turn_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("turn_id", default="-")

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_logger = logging.getLogger("smarter.access")


def new_request_id(incoming: str | None) -> str:
    if incoming and _REQUEST_ID_PATTERN.match(incoming):
        return incoming
    return uuid.uuid4().hex


def start_request(incoming_id: str | None) -> str:
    """A request begins: its id (the caller's, if well formed) and no account yet in the logs."""
    request_id = new_request_id(incoming_id)
    request_id_var.set(request_id)
    account_var.set("-")
    turn_id_var.set("-")
    return request_id


def door_of(path: str) -> str:
    """Which door a platform-host path belongs to, for the requests metric (a bounded label)."""
    if path.startswith("/api/v1/openai/"):
        return "openai"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/webhooks/"):
        return "webhook"
    if path.startswith(("/healthz", "/readyz", "/metrics", "/static/")):
        return "other"
    return "console"


def log_access(method: str, path: str, status: int, started: float, *, door: str) -> None:
    """The one access-log line of a request, and its count and time in the metrics; `started`
    is its `time.perf_counter()`."""
    seconds = time.perf_counter() - started
    metrics.http_request_observe(door=door, method=method, status=status, seconds=seconds)
    access_logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={"status": status, "ms": round(seconds * 1000, 2)},
    )


def bind_account(account_number: str) -> None:
    """Called once the caller is known, so later log lines name the tenant."""
    account_var.set(account_number)


def bind_turn(turn_id: int) -> None:
    """Called once the turn is recorded, so later log lines and error reports name it."""
    turn_id_var.set(str(turn_id))


# Message headers of a Celery task that carry the ids into the worker, and the variables they fill.
_TASK_HEADERS = {
    "smarter_request_id": request_id_var,
    "smarter_turn_id": turn_id_var,
    "smarter_account": account_var,
}


def task_headers_stamp(headers: dict[str, Any]) -> None:
    """A task is published: its message carries this context's ids (Celery's `before_task_publish`)."""
    for header, variable in _TASK_HEADERS.items():
        headers[header] = variable.get()


def task_context_restore(request: Any) -> None:
    """A worker starts a task (Celery's `task_prerun`, given `task.request`): the ids of what
    enqueued it, or none, so that no id of an earlier task on this thread lingers. A task run
    eagerly runs in its caller's context, whose ids are already set."""
    if getattr(request, "is_eager", False):
        return
    for header, variable in _TASK_HEADERS.items():
        variable.set(str(getattr(request, header, None) or "-"))


class StderrHandler(logging.StreamHandler):
    """Writes records to standard error, and to the current `sys.stderr` once the stream it was
    given has been closed.

    A plain StreamHandler keeps the stream it was made with. A process that swaps its standard
    error for a while (a test runner capturing output) and closes the swapped stream would then
    get a "Logging error" traceback, instead of the record, for every line logged afterwards: an
    unclosed connection reported at exit, a worker shutting down. While the stream is open,
    records go there, whatever else swaps `sys.stderr` for a moment.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "closed", False):
            with self.lock or contextlib.nullcontext():
                self.stream = sys.stderr  # not setStream(): it would flush the closed stream
        super().emit(record)


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.account = account_var.get()
        record.turn_id = turn_id_var.get()
        return True


_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "account",
    "turn_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra= fields are kept, exceptions become one string."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "account": getattr(record, "account", "-"),
            "turn_id": getattr(record, "turn_id", "-"),
        }
        if tracing.enabled():
            ids = tracing.current_ids()
            if ids is not None:
                payload["trace_id"], payload["span_id"] = ids
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and scrubbed of secrets) when the record was made
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


class RequestContextMiddleware:
    """Sets the request id and logs method, path, status, latency and account per request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _begin(self, request: HttpRequest) -> float:
        request.request_id = start_request(request.headers.get("X-Request-ID"))  # type: ignore[attr-defined]
        return time.perf_counter()

    def _end(self, request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        door = "public" if getattr(request, "chatbot_host", None) else door_of(request.path)
        log_access(request.method or "", request.path, response.status_code, started, door=door)
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = self._begin(request)
        return self._end(request, self.get_response(request), started)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = self._begin(request)
        response = await self.get_response(request)
        return self._end(request, response, started)
