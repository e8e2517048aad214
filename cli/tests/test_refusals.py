"""How a non-2xx answer becomes the message the user reads."""

from __future__ import annotations

import httpx

from smarter_cli.client import _refusal
from smarter_cli.errors import FieldProblem


def test_the_error_envelope_gives_description_and_field_errors() -> None:
    body = {
        "errorClass": "ValidationError",
        "status": 400,
        "description": "The Plugin manifest is invalid.",
        "context": {"kind": "Plugin", "name": "x"},
        "errors": [{"loc": "spec.selector.directive", "msg": "must be one of always, search_terms, llm"}],
    }

    refusal = _refusal(httpx.Response(400, json=body))

    assert refusal.status == 400
    assert refusal.context == {"kind": "Plugin", "name": "x"}
    assert refusal.problems == [FieldProblem("spec.selector.directive", "must be one of always, search_terms, llm")]
    assert refusal.lines() == [
        "Error: The Plugin manifest is invalid.",
        "  spec.selector.directive: must be one of always, search_terms, llm",
    ]


def test_rate_limits_say_when_to_retry() -> None:
    body = {"errorClass": "RateLimited", "status": 429, "description": "Too many requests.", "context": {}}

    refusal = _refusal(httpx.Response(429, json=body, headers={"Retry-After": "7"}))

    assert refusal.lines() == ["Error: Too many requests. Retry in 7 s."]


def test_a_body_that_is_not_the_envelope_is_summarised() -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"

    refusal = _refusal(httpx.Response(502, text=page))

    assert refusal.lines() == ["Error: The server answered 502 Bad Gateway."]
    assert _refusal(httpx.Response(503, text="upstream\nunavailable")).lines() == [
        "Error: The server answered 503 Service Unavailable. upstream unavailable"
    ]
