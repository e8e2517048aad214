"""The spans of a turn (`turn_spans`), collected in memory from real turns: through the lean
OpenAI route and through a Django door on a real ASGI server, against the stub upstream asking
for two tools in one round, and across the Celery hop to a real worker on Redis."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conftest import AsgiServer
from smarter.apps.account.billing.models import Charge
from smarter.apps.account.tests.billing_support import celery_mode
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.openai_route import OpenAIChatRoute
from smarter.apps.chat.models import Turn
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http, sql_plugin
from smarter.lib import tracing
from smarter.testing.openai_stub import OpenAIStub, error_reply, text_reply, tool_calls_reply

upstream = test_turn_pipeline.upstream
owner = test_turn_pipeline.owner

LEAN_PATH = "/api/v1/openai/chat/completions"
ASK = {"model": "support", "messages": [{"role": "user", "content": "Gizmo price, and courses under 250?"}]}
# Names of the spans a turn is made of (ours, and the model calls' HTTP requests); database and
# Redis spans hang under them too, in numbers that depend on what each process has cached.
SHAPE_SCOPES = {"smarter.lib.tracing", "smarter.apps.chat.turn_spans", "opentelemetry.instrumentation.aiohttp_client"}
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, every span kept in memory (the process's own provider, as
    `tracing_start` would install it, but with an in-memory exporter)."""
    exporter = InMemorySpanExporter()
    provider = tracing.new_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.tracing_install(provider)
    yield exporter
    tracing.tracing_stop()


def _two_tools_then_answer(stub: OpenAIStub) -> None:
    stub.enqueue(
        tool_calls_reply(("catalogue", {"inquiry_type": "price"}), ("courses", {"max_cost": 250})),
        text_reply("A Gizmo costs $12.50; the course catalogue is unavailable."),
    )


def _plugins_and_chatbot(persona: Persona, server: Any) -> None:
    with http(persona, server) as client:
        apply(client, STATIC_PLUGIN)
        sql_plugin(client, "no_such_database")  # fails: a plugin whose database does not exist
        chatbot(client, plugins=["catalogue", "courses"], defaultTemperature=0.2, defaultMaxTokens=300)


def _post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A request from a client with no tracing of its own (the test process's httpx is
    instrumented, and would send its own traceparent)."""
    request = urllib.request.Request(  # noqa: S310  (a loopback URL of the test)
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = _named(spans, name)
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def _shape(spans: Sequence[ReadableSpan], root: ReadableSpan) -> tuple[str, list[Any]]:
    """The tree under `root` by parent span ids, keeping the spans of SHAPE_SCOPES (a dropped
    span's children hang from its nearest kept ancestor). Siblings in start order; tools of one
    round run concurrently, so a run of `execute_tool` siblings is in name order."""
    by_id = {span.context.span_id: span for span in spans}
    root_id = root.context.span_id

    def kept_parent(span: ReadableSpan) -> int | None:
        parent = span.parent.span_id if span.parent else None
        while parent in by_id and parent != root_id and by_id[parent].instrumentation_scope.name not in SHAPE_SCOPES:
            grand = by_id[parent].parent
            parent = grand.span_id if grand else None
        return parent

    def tree(span: ReadableSpan) -> tuple[str, list[Any]]:
        children = sorted(
            (child for child in spans if child.instrumentation_scope.name in SHAPE_SCOPES),
            key=lambda child: child.start_time or 0,
        )
        mine = [tree(child) for child in children if kept_parent(child) == span.context.span_id]
        ordered: list[Any] = []
        for node in mine:
            if ordered and node[0].startswith("execute_tool") and ordered[-1][0].startswith("execute_tool"):
                run = [ordered.pop()]
                while ordered and ordered[-1][0].startswith("execute_tool"):
                    run.append(ordered.pop())
                ordered.extend(sorted([*run, node]))
            else:
                ordered.append(node)
        return span.name, ordered

    return tree(root)


def _all_attributes(spans: Sequence[ReadableSpan]) -> set[str]:
    return {key for span in spans for key in (span.attributes or {})}


def _assert_turn(spans: Sequence[ReadableSpan], stub: OpenAIStub, *, channel: str) -> ReadableSpan:
    """The GenAI spans of the two-tool turn, their attributes and their status."""
    turn_row = Turn.objects.get()
    agent = _one(spans, "invoke_agent support")
    assert agent.kind == SpanKind.INTERNAL
    chats = _named(spans, "chat gpt-4o-mini")
    assert len(chats) == 2
    assert {key: value for key, value in (agent.attributes or {}).items() if key not in CONTENT_KEYS} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "support",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.conversation.id": turn_row.chat.session_key,
        "gen_ai.usage.input_tokens": turn_row.prompt_tokens,
        "gen_ai.usage.output_tokens": turn_row.completion_tokens,
        "smarter.turn.id": turn_row.pk,
        "smarter.provider": "openai",
        "smarter.channel": channel,
    }
    assert agent.status.status_code == StatusCode.UNSET
    port = int(stub.url.rsplit(":", 1)[1].split("/")[0])
    for chat, finish in zip(chats, ["tool_calls", "stop"], strict=True):
        assert chat.kind == SpanKind.CLIENT and chat.status.status_code == StatusCode.UNSET
        attributes = dict(chat.attributes or {})
        assert attributes.pop("gen_ai.usage.input_tokens") > 0 and attributes.pop("gen_ai.usage.output_tokens") > 0
        assert {key: value for key, value in attributes.items() if key not in CONTENT_KEYS} == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.request.stream": False,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 300,
            "gen_ai.response.model": "gpt-4o-mini",
            "gen_ai.response.finish_reasons": (finish,),
            "server.address": "127.0.0.1",
            "server.port": port,
        }
    # The turn's usage is its model calls' usage.
    assert sum(chat.attributes["gen_ai.usage.input_tokens"] for chat in chats) == turn_row.prompt_tokens  # type: ignore[index]
    calls = {call.tool_name: call for call in turn_row.tool_calls.all()}
    catalogue, courses = _one(spans, "execute_tool catalogue"), _one(spans, "execute_tool courses")
    for span, name in [(catalogue, "catalogue"), (courses, "courses")]:
        assert span.kind == SpanKind.INTERNAL
        assert {key: value for key, value in (span.attributes or {}).items() if key not in CONTENT_KEYS} == {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": calls[name].call_id,
            "gen_ai.tool.type": "function",
            "smarter.plugin.class": "static" if name == "catalogue" else "sql",
            **({"error.type": "tool_error"} if name == "courses" else {}),
        }
    assert catalogue.status.status_code == StatusCode.UNSET
    assert courses.status.status_code == StatusCode.ERROR
    # No account, user or key anywhere.
    for span in spans:
        for key, value in (span.attributes or {}).items():
            assert "account" not in key and "user.id" not in key, key
            assert turn_row.chat.account.account_number not in str(value)
    return agent


TURN_SHAPE = [
    (
        "chat gpt-4o-mini",
        [("POST", [])],
    ),
    ("execute_tool catalogue", []),
    ("execute_tool courses", []),
    ("chat gpt-4o-mini", [("POST", [])]),
]


def test_a_turn_through_the_lean_route_is_one_trace_under_its_server_span(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    _plugins_and_chatbot(owner, asgi_server)
    spans.clear()  # the set-up requests
    _two_tools_then_answer(upstream)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    status, body = _post(
        asgi_server.url + LEAN_PATH,
        ASK,
        {
            "Authorization": f"Bearer {owner.key}",
            "traceparent": f"00-{caller_trace}-{caller_span}-01",
            "X-Request-ID": "request-lean-0001",
            "User-Agent": "an-openai-sdk/1.0",
        },
    )
    assert status == 200, body
    asgi_server.wait_idle()
    finished = spans.get_finished_spans()
    server = _one(finished, f"POST {LEAN_PATH}")
    # The caller's traceparent is honoured: the server span continues its trace.
    assert format(server.context.trace_id, "032x") == caller_trace
    assert server.parent is not None and format(server.parent.span_id, "016x") == caller_span
    assert server.kind == SpanKind.SERVER
    assert dict(server.attributes or {}) == {
        "http.request.method": "POST",
        "http.route": LEAN_PATH,
        "url.path": LEAN_PATH,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": asgi_server.port,
        "client.address": "127.0.0.1",
        "user_agent.original": "an-openai-sdk/1.0",
        "smarter.request_id": "request-lean-0001",
        "http.response.status_code": 200,
    }
    assert _shape(finished, server) == (server.name, [("invoke_agent support", TURN_SHAPE)])
    assert {span.context.trace_id for span in finished} == {server.context.trace_id}
    _assert_turn(finished, upstream, channel="openai")
    assert not _all_attributes(finished) & CONTENT_KEYS  # content stays off by default


def test_a_turn_through_a_django_door_is_one_trace_under_djangos_server_span(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    from django.core.asgi import get_asgi_application

    _plugins_and_chatbot(owner, asgi_server)
    # A handler built now, with Django's instrumentation in its middleware (as `smarter.asgi`
    # builds it after starting tracing).
    door = AsgiServer(app=OpenAIChatRoute(get_asgi_application()))
    door.start()
    try:
        spans.clear()
        _two_tools_then_answer(upstream)
        status, body = _post(
            door.url + "/api/v1/chatbots/support/chat/",
            {"prompt": "Gizmo price?"},
            {"Authorization": f"Token {owner.key}", "X-Request-ID": "request-door-01"},
        )
        assert status == 200, body
        door.wait_idle()
    finally:
        door.stop()
    finished = spans.get_finished_spans()
    server = next(span for span in finished if span.kind == SpanKind.SERVER)
    assert server.parent is None
    assert server.attributes is not None
    assert server.attributes["smarter.request_id"] == "request-door-01"
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.response.status_code"] == 200
    assert _shape(finished, server) == (server.name, [("invoke_agent support", TURN_SHAPE)])
    assert {span.context.trace_id for span in finished} == {server.context.trace_id}
    _assert_turn(finished, upstream, channel="api")


def test_content_is_on_the_spans_only_with_capture_on(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any, smarter_settings: Any
) -> None:
    _plugins_and_chatbot(owner, asgi_server)
    smarter_settings.otel_capture_content = True
    spans.clear()
    _two_tools_then_answer(upstream)
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        response = client.post(LEAN_PATH, json=ASK, headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 200, response.text
    asgi_server.wait_idle()
    finished = spans.get_finished_spans()
    agent = _one(finished, "invoke_agent support")
    assert agent.attributes is not None
    assert json.loads(str(agent.attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "You sell Gizmos."}
    ]
    assert json.loads(str(agent.attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": ASK["messages"][0]["content"]}]}  # type: ignore[index]
    ]
    answer = "A Gizmo costs $12.50; the course catalogue is unavailable."
    assert json.loads(str(agent.attributes["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
    ]
    first_chat, second_chat = _named(finished, "chat gpt-4o-mini")
    assert first_chat.attributes is not None and second_chat.attributes is not None
    asked = json.loads(str(first_chat.attributes["gen_ai.output.messages"]))
    assert [(part["name"], part["arguments"]) for part in asked[0]["parts"]] == [
        ("catalogue", {"inquiry_type": "price"}),
        ("courses", {"max_cost": 250}),
    ]
    assert asked[0]["finish_reason"] == "tool_calls"
    # The second call sends the tool results back.
    sent = json.loads(str(second_chat.attributes["gen_ai.input.messages"]))
    assert [message["role"] for message in sent] == ["user", "assistant", "tool", "tool"]
    catalogue = _one(finished, "execute_tool catalogue")
    assert catalogue.attributes is not None
    assert json.loads(str(catalogue.attributes["gen_ai.tool.call.arguments"])) == {"inquiry_type": "price"}
    assert "$12.50" in str(catalogue.attributes["gen_ai.tool.call.result"])
    courses = _one(finished, "execute_tool courses")
    assert courses.status.status_code == StatusCode.ERROR
    assert courses.status.description and "no_such_database" in courses.status.description


def test_the_billing_task_on_a_real_worker_is_a_child_within_the_turns_trace(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any, redis_url: str
) -> None:
    from celery.contrib.testing.worker import start_worker

    from smarter.apps.account.billing.services import usage_events_published
    from smarter.celery import app

    _plugins_and_chatbot(owner, asgi_server)
    with (
        celery_mode(eager=False, broker_url=redis_url),
        start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10),
    ):
        spans.clear()
        _two_tools_then_answer(upstream)
        status, body = _post(asgi_server.url + LEAN_PATH, ASK, {"Authorization": f"Bearer {owner.key}"})
        assert status == 200, body
        assert usage_events_published(timeout=10)
        run_name = "run/smarter.apps.account.tasks.record_charges_task"
        deadline = time.monotonic() + 20
        while not _named(spans.get_finished_spans(), run_name) and time.monotonic() < deadline:
            time.sleep(0.05)
    finished = spans.get_finished_spans()
    agent = _one(finished, "invoke_agent support")
    task = _one(finished, run_name)
    assert task.kind == SpanKind.CONSUMER
    assert task.context.trace_id == agent.context.trace_id
    by_id = {span.context.span_id: span for span in finished}
    chain = []
    parent = task.parent
    while parent is not None and parent.span_id in by_id:
        chain.append(by_id[parent.span_id].name)
        parent = by_id[parent.span_id].parent
    # worker's run <- the publish <- the hand-off of the turn's usage event <- the turn <- the request
    assert chain == [
        "apply_async/smarter.apps.account.tasks.record_charges_task",
        "publish usage_events",
        "invoke_agent support",
        f"POST {LEAN_PATH}",
    ]
    hand_off = _one(finished, "publish usage_events")
    assert hand_off.attributes == {"smarter.usage_events.count": 1}
    assert [link.context.span_id for link in hand_off.links] == [agent.context.span_id]
    assert Charge.objects.filter(turn_id=Turn.objects.get().pk).exists()


def test_a_streamed_turn_has_the_same_spans(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    _plugins_and_chatbot(owner, asgi_server)
    spans.clear()
    _two_tools_then_answer(upstream)
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        response = client.post(
            LEAN_PATH, json={**ASK, "stream": True}, headers={"Authorization": f"Bearer {owner.key}"}
        )
    assert response.status_code == 200 and "data: [DONE]" in response.text
    asgi_server.wait_idle()
    finished = spans.get_finished_spans()
    server = _one(finished, f"POST {LEAN_PATH}")
    assert _shape(finished, server) == (server.name, [("invoke_agent support", TURN_SHAPE)])
    chats = _named(finished, "chat gpt-4o-mini")
    assert [chat.attributes["gen_ai.request.stream"] for chat in chats] == [True, True]  # type: ignore[index]
    assert [chat.attributes["gen_ai.response.finish_reasons"] for chat in chats] == [  # type: ignore[index]
        ("tool_calls",),
        ("stop",),
    ]


def test_a_failing_model_call_marks_its_span_and_the_turn_as_errors(
    spans: InMemorySpanExporter, upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    spans.clear()
    upstream.enqueue(error_reply(503, "overloaded"))
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        response = client.post(LEAN_PATH, json=ASK, headers={"Authorization": f"Bearer {owner.key}"})
    assert response.status_code == 502, response.text
    asgi_server.wait_idle()
    finished = spans.get_finished_spans()
    chat = _one(finished, "chat gpt-4o-mini")
    assert chat.status.status_code == StatusCode.ERROR
    assert chat.attributes is not None and chat.attributes["error.type"]
    agent = _one(finished, "invoke_agent support")
    assert agent.status.status_code == StatusCode.ERROR
    assert agent.attributes is not None and agent.attributes["smarter.turn.id"] == Turn.objects.get().pk
    server = _one(finished, f"POST {LEAN_PATH}")
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 502
    # Nothing the upstream said, nor the prompt, is on any span with content capture off.
    for span in finished:
        assert "overloaded" not in json.dumps(dict(span.attributes or {}), default=str)
        assert ASK["messages"][0]["content"] not in json.dumps(dict(span.attributes or {}), default=str)  # type: ignore[index]
