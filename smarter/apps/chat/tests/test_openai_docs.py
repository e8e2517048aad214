"""docs/openai-compatible.md runs as written: its Python blocks, in order and in one namespace,
against the platform served on loopback (the page's `localhost:8000` is the test server's
address, `KEY` the owner's key), with the stub upstream as the chatbot `demo`'s model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import make_account, make_persona
from smarter.apps.chat.tests import test_openai_clients
from smarter.apps.chat.tests.test_turn_pipeline import chatbot, http
from smarter.testing.openai_stub import (
    OpenAIStub,
    RecordedRequest,
    ScriptedReply,
    json_reply,
    text_reply,
    tool_calls_reply,
)

upstream = test_openai_clients.upstream  # the same stub upstream fixture as the clients' tests
DOC = Path(__file__).resolve().parents[4] / "docs" / "openai-compatible.md"


def _model(request: RecordedRequest) -> ScriptedReply:
    """The chatbot's model as the page's examples need it."""
    if request.parameter("response_format"):
        return json_reply({"product": "gobstopper", "price": 1.5})
    offered = [tool["function"]["name"] for tool in request.tools]
    if "get_weather" in offered and not any(message["role"] == "tool" for message in request.messages):
        return tool_calls_reply(("get_weather", {"city": "Paris"}))
    if request.messages[-1]["role"] == "tool":
        return text_reply(f"The tool says: {request.messages[-1]['content']}.")
    return text_reply("A gobstopper costs $1.50.")


def test_the_pages_python_runs_as_written(
    upstream: OpenAIStub, asgi_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    with http(owner, asgi_server) as client:
        chatbot(client, name="demo")
    upstream.respond_with(_model)
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(code) == 3
    namespace: dict[str, Any] = {"KEY": owner.key, "__name__": "docs"}
    for block in code:
        exec(block.replace("http://localhost:8000", asgi_server.url), namespace)  # noqa: S102
    assert capsys.readouterr().out.splitlines() == [
        "['demo'] demo",
        "A gobstopper costs $1.50.",
        "The tool says: Sunny in Paris.",
        "product='gobstopper' price=1.5",
    ]
    # The tool's call came back to the page's code, which ran it and sent its result.
    assert json.loads(upstream.chat_requests[2].messages[-2]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris"
    }
