"""Starting traces (`smarter.lib.tracing`): a process started with `SMARTER_OTLP_ENDPOINT` sends its
spans to a real OTLP/HTTP receiver; one started without it imports and instruments nothing; JSON
log lines carry the trace and span ids while tracing is on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from smarter.lib import tracing
from smarter.lib.observability import JsonFormatter
from smarter.testing.otlp_sink import OtlpSink

ROOT = Path(__file__).resolve().parents[3]

# A served request through the platform's real ASGI entry point, in a process of its own.
SERVE_ONE_REQUEST = """
import asyncio, json, sys
import httpx
from smarter.asgi import application

async def main():
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "request-otlp-0001"})
    return response.status_code

status = asyncio.run(main())
"""

REPORT_WHAT_WAS_LOADED = """
loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
from django.conf import settings
from smarter.lib import tracing
middleware = [name for name in settings.MIDDLEWARE if "opentelemetry" in name]
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.django import DjangoInstrumentor
instrumented = [i().is_instrumented_by_opentelemetry for i in (DjangoInstrumentor, CeleryInstrumentor, AioHttpClientInstrumentor)]
print(json.dumps({"status": status, "loaded": loaded, "enabled": tracing.enabled(), "middleware": middleware,
    "provider": trace._TRACER_PROVIDER is not None, "instrumented": instrumented}))
"""


def _run(script: str, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SMARTER_OTLP", "OTEL_"))}
    env.update(environment, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="smarter.settings")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, ExportTraceServiceRequest]]]]:
    sink = OtlpSink().start()
    yield sink.url, sink.received
    sink.stop()


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value"))


def test_a_process_with_an_endpoint_sends_its_spans_to_the_otlp_receiver(
    receiver: tuple[str, list[tuple[str, ExportTraceServiceRequest]]],
) -> None:
    endpoint, received = receiver
    # Shutting the provider down flushes the batch processor, as a process exiting does.
    flush = "from opentelemetry import trace\ntrace.get_tracer_provider().shutdown()\nprint(status)\n"
    printed = _run(
        SERVE_ONE_REQUEST + flush,
        SMARTER_OTLP_ENDPOINT=endpoint + "/",
        SMARTER_OTEL_SERVICE_NAME="smarter-otlp-test",
    )
    assert printed.strip() == "200"
    assert received and {path for path, _ in received} == {"/v1/traces"}
    resources = [resource_spans for _, request in received for resource_spans in request.resource_spans]
    for resource_spans in resources:
        attributes = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
        assert attributes["service.name"] == "smarter-otlp-test"
        assert attributes["service.version"]
    spans = [span for resource_spans in resources for scope in resource_spans.scope_spans for span in scope.spans]
    servers = [span for span in spans if span.kind == span.SPAN_KIND_SERVER]
    assert len(servers) == 1
    attributes = {item.key: _value(item.value) for item in servers[0].attributes}
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["smarter.request_id"] == "request-otlp-0001"


def test_a_process_without_an_endpoint_imports_and_instruments_nothing() -> None:
    report = json.loads(_run(SERVE_ONE_REQUEST + REPORT_WHAT_WAS_LOADED))
    assert report == {
        "status": 200,
        "loaded": [],  # no OpenTelemetry module was imported by serving a request
        "enabled": False,
        "middleware": [],
        "provider": False,  # no tracer provider installed
        "instrumented": [False, False, False],
    }


def test_json_log_lines_carry_the_trace_and_span_ids_while_tracing_is_on() -> None:
    record = logging.LogRecord("smarter.test", logging.INFO, __file__, 1, "inside a span", None, None)
    assert "trace_id" not in json.loads(JsonFormatter().format(record))
    exporter = InMemorySpanExporter()
    provider = tracing.new_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.tracing_install(provider)
    try:
        with tracing.tracer(__name__).start_as_current_span("work") as span:
            line = json.loads(JsonFormatter().format(record))
        outside = json.loads(JsonFormatter().format(record))
    finally:
        tracing.tracing_stop()
    context = span.get_span_context()
    assert (line["trace_id"], line["span_id"]) == (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    assert "trace_id" not in outside and "span_id" not in outside
