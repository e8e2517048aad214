"""OpenTelemetry traces, sent over OTLP/HTTP when `SMARTER_OTLP_ENDPOINT` is set.

Started once per process by the process's entry point: `smarter/asgi.py` and `smarter/wsgi.py`
(which `manage.py runserver` loads too), and each Celery worker process (`smarter/celery.py`, on
`worker_process_init`, so every forked child has its own exporter thread). One-off management
commands (`migrate`, `check`, ...) are not traced: their spans would be unparented database
queries nobody asked to see.

While the endpoint is unset nothing of OpenTelemetry is imported and nothing is instrumented:
`enabled()` is a module global read, so the hot path pays one attribute lookup for each place
that could make a span.

The GenAI spans of a turn (`smarter.apps.chat.turn_spans`) follow the semantic conventions of
`SEMCONV_VERSION`; the HTTP, database, Redis and Celery spans come from the official
opentelemetry-python-contrib instrumentations.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings

from smarter import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

logger = logging.getLogger(__name__)

# The semantic conventions our own spans follow. The GenAI ones are of "development" status and
# change between releases (gen_ai.system became gen_ai.provider.name, events became the
# gen_ai.input/output.messages attributes): this is the release whose names and shapes we emit.
SEMCONV_VERSION = "1.41.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
# The contrib HTTP instrumentations emit the pre-1.21 attribute names (http.method, http.url)
# unless told otherwise; "http" makes the Django door's server spans use the stable names the
# lean route's server span uses (http.request.method, url.path), so both doors look alike.
STABILITY_OPT_IN = "http"

_enabled = False
_pid = -1
_provider: TracerProvider | None = None
_instrumentors: list[Any] = []


def enabled() -> bool:
    """Whether this process records spans: cheap enough to ask on every request."""
    return _enabled


def capture_content() -> bool:
    """Whether prompts, answers and tool arguments go on spans (`SMARTER_OTEL_CAPTURE_CONTENT`)."""
    return bool(settings.SMARTER.otel_capture_content)


def tracing_start() -> bool:
    """Start tracing in this process if an endpoint is configured; True when traces are on.
    Idempotent per process: a forked child starts its own provider and exporter thread."""
    endpoint = settings.SMARTER.otlp_endpoint
    if not endpoint:
        return False
    if _enabled and _pid == os.getpid():
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = new_provider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)  # for any library that asks the global provider
    tracing_install(provider)
    logger.info("traces are sent to %s", endpoint)
    return True


def new_provider() -> TracerProvider:
    """A provider with this process's resource and sampler, and no processor yet."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    resource = Resource.create({"service.name": settings.SMARTER.otel_service_name, "service.version": __version__})
    # Parent-based: a caller's sampled trace is kept whatever the ratio, so a trace is never cut in half.
    sampler = ParentBased(TraceIdRatioBased(settings.SMARTER.otel_sample_ratio))
    return TracerProvider(resource=resource, sampler=sampler)


def tracing_install(provider: TracerProvider) -> None:
    """Record with `provider` from now on and instrument the libraries we use (the tests pass
    one that keeps spans in memory)."""
    global _enabled, _pid, _provider
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", STABILITY_OPT_IN)
    _provider, _pid = provider, os.getpid()
    _instrument(provider)
    _enabled = True


def tracing_stop() -> None:
    """Undo `tracing_install` (tests): the libraries are no longer instrumented."""
    global _enabled, _provider
    _enabled = False
    while _instrumentors:
        _instrumentors.pop().uninstrument()
    if _provider is not None:
        _provider.force_flush()
    _provider = None


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    chosen: list[tuple[Any, dict[str, Any]]] = [
        # Django's middleware goes first in MIDDLEWARE: instrument before the handler is built.
        (DjangoInstrumentor(), {"response_hook": _django_response_hook}),
        (CeleryInstrumentor(), {}),
        (HTTPXClientInstrumentor(), {}),
        (AioHttpClientInstrumentor(), {}),  # the model calls (smarter.apps.chat.providers.clients)
        (RedisInstrumentor(), {}),
        *((instrumentor, {}) for instrumentor in _database_instrumentors()),
    ]
    for instrumentor, options in chosen:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider, **options)
            _instrumentors.append(instrumentor)


def _database_instrumentors() -> list[Any]:
    """The DB-API drivers this process's databases use: the system of record, and PostgreSQL
    when it is the knowledge index."""
    engines = {database["ENGINE"].rsplit(".", 1)[-1] for database in settings.DATABASES.values()}
    found: list[Any] = []
    if "mysql" in engines:
        from opentelemetry.instrumentation.mysqlclient import MySQLClientInstrumentor

        found.append(MySQLClientInstrumentor())
    if "sqlite3" in engines:
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

        found.append(SQLite3Instrumentor())
    if "postgresql" in engines or (settings.SMARTER.knowledge_index_url or "").startswith("postgres"):
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        found.append(PsycopgInstrumentor())
    return found


def _django_response_hook(span: Span, request: Any, response: Any) -> None:
    request_id = getattr(request, "request_id", None)  # set by RequestContextMiddleware
    if request_id and span.is_recording():
        span.set_attribute("smarter.request_id", request_id)


def tracer(name: str) -> Tracer:
    """A tracer of the installed provider; only call while `enabled()`."""
    assert _provider is not None, "tracing is not started"
    return _provider.get_tracer(name, schema_url=SCHEMA_URL)


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids in hex (for log lines), or None outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# --- work handed from one thread to another -------------------------------------------------------
def current_context() -> Any:
    """The caller's trace context, to continue it on another thread (None while tracing is off)."""
    if not _enabled:
        return None
    from opentelemetry import context

    return context.get_current()


@contextmanager
def continued(contexts: Sequence[Any], name: str, attributes: dict[str, Any] | None = None) -> Iterator[None]:
    """A span `name` in the first of `contexts` (taken with `current_context()` on other
    threads), linked to all of them: work done once for several callers, such as one publish
    carrying several turns' usage events, is a child of the first caller and linked to each."""
    present = [context for context in contexts if context is not None]
    if not _enabled or not present:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.trace import Link

    links = [Link(span.get_span_context()) for span in map(trace.get_current_span, present)]
    with tracer(__name__).start_as_current_span(name, context=present[0], links=links, attributes=attributes):
        yield


# --- a server span for a path served in front of Django ----------------------------------------
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def asgi_server_span(
    serve: Callable[[Send], Awaitable[None]],
    *,
    scope: MutableMapping[str, Any],
    headers: dict[str, str],
    send: Send,
    route: str,
) -> None:
    """`serve(send)` inside a SERVER span with the HTTP conventions' attributes, continuing the
    caller's trace from its `traceparent` header (W3C), as Django's instrumentation does for the
    paths it serves. The span carries the request id once `serve` has set it."""
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from smarter.lib.observability import request_id_var

    method = scope["method"]
    server = scope.get("server") or (None, None)
    client = scope.get("client") or (None, None)
    attributes = {
        "http.request.method": method,
        "http.route": route,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
        "server.address": headers.get("host", "").rsplit(":", 1)[0] or server[0],
        "server.port": server[1],
        "client.address": client[0],
        "user_agent.original": headers.get("user-agent"),
    }
    parent = propagate.extract(headers)
    span = tracer(__name__).start_span(
        f"{method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={key: value for key, value in attributes.items() if value is not None},
    )
    status = 0

    async def observed(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    token = context.attach(trace.set_span_in_context(span, parent))
    try:
        await serve(observed)
    except BaseException as error:
        span.record_exception(error)
        span.set_attributes({"error.type": type(error).__qualname__})
        span.set_status(Status(StatusCode.ERROR))
        raise
    finally:
        context.detach(token)
        span.set_attribute("smarter.request_id", request_id_var.get())
        if status:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:  # a 4xx is the client's error, not the server's (HTTP conventions)
                span.set_attributes({"error.type": str(status)})
                span.set_status(Status(StatusCode.ERROR))
        span.end()
