"""Once a turn is recorded, the log lines of its request name it: its turn id is in the JSON and
text log formats, whether the turn answered or the model failed, through Django's door and the
OpenAI route answered in front of it."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Turn
from smarter.apps.chat.tests.test_turn_pipeline import chatbot, http, owner, upstream  # noqa: F401  (fixtures)
from smarter.lib.observability import JsonFormatter, RequestContextFilter
from smarter.testing.openai_stub import OpenAIStub, error_reply, text_reply


class _Lines(logging.Handler):
    """The access log as the console handler writes it: JSON and text, with the request's ids."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(RequestContextFilter())
        self.json: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.text_format = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])

    def emit(self, record: logging.LogRecord) -> None:
        self.json.append(json.loads(JsonFormatter().format(record)))
        self.text.append(self.text_format.format(record))


@pytest.fixture
def access_lines() -> Iterator[_Lines]:
    access = logging.getLogger("smarter.access")
    handler, level = _Lines(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    yield handler
    access.removeHandler(handler)
    access.setLevel(level)


def _line_of(lines: _Lines, request_id: str) -> tuple[dict[str, Any], str]:
    [index] = [i for i, line in enumerate(lines.json) if line["request_id"] == request_id]
    return lines.json[index], lines.text[index]


def test_the_log_line_of_a_turn_names_its_turn_whether_it_answered_or_failed(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,  # noqa: F811
    asgi_server: Any,
    access_lines: _Lines,
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(text_reply("A Gizmo costs $12.50."))
        answered = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Gizmo price?"})
        upstream.enqueue(*[error_reply(500, "the model is down")] * 3)
        failed = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "And now?"})
        applied = client.get("/api/v1/chatbots/")
    assert (answered.status_code, failed.status_code) == (200, 502)
    asgi_server.wait_idle()
    first, second = Turn.objects.order_by("pk")
    assert (first.status, second.status) == ("ok", "error")

    line, text = _line_of(access_lines, answered.headers["X-Request-ID"])
    assert (line["message"], line["turn_id"]) == ("POST /api/v1/chatbots/support/chat/ 200", str(first.pk))
    assert f"[{answered.headers['X-Request-ID']} turn={first.pk}]" in text
    line, text = _line_of(access_lines, failed.headers["X-Request-ID"])
    assert (line["message"], line["turn_id"]) == ("POST /api/v1/chatbots/support/chat/ 502", str(second.pk))
    assert f"[{failed.headers['X-Request-ID']} turn={second.pk}]" in text
    # A request without a turn names none, on a server whose context just served two.
    assert _line_of(access_lines, applied.headers["X-Request-ID"])[0]["turn_id"] == "-"


def test_the_openai_route_logs_the_turn_of_its_completion(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,  # noqa: F811
    asgi_server: Any,
    access_lines: _Lines,
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(text_reply("Hello."))
        response = client.post(
            "/api/v1/openai/chat/completions",
            json={"model": "support", "messages": [{"role": "user", "content": "Hi?"}]},
            headers={"Authorization": f"Bearer {owner.key}"},
        )
    assert response.status_code == 200, response.text
    asgi_server.wait_idle()  # the route logs its line once the answer is sent
    line, _ = _line_of(access_lines, response.headers["X-Request-ID"])
    # The completion's id is random, as OpenAI's are: the log line names the turn.
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", response.json()["id"])
    assert line["turn_id"] == str(Turn.objects.get().pk)
