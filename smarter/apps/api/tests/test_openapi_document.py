"""The OpenAPI document lists every route under `/api/`: walked from the URL resolver, so that a
route added without a description (an async door drf-spectacular cannot read, a view excluded by
mistake) fails here; and Swagger UI shows the doors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from smarter.apps.api.openapi import OPENAI_PREFIX, api_routes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DOORS = (
    "/api/v1/chatbots/{name}/chat/",
    "/api/v1/chatbots/{name}/config/",
    "/api/v1/openai/chat/completions",
    "/api/v1/openai/models",
    "/api/v1/openai/embeddings",
)
# The document itself and its viewer.
# The schema and its viewer, and the OpenAI door's answer to any path it does not serve (its
# JSON 404), are no operations of their own.
NOT_OPERATIONS = {"/api/schema/", "/api/docs/", "/api/v1/openai"}


def documented_path(regex: str) -> str:
    path = EndpointEnumerator().get_path_from_regex(regex)
    return path.rstrip("/") if path.startswith(OPENAI_PREFIX) else path


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        document: dict[str, Any] = yaml.safe_load(APIClient().get("/api/schema/").content)
    return document


def test_every_route_under_api_is_in_the_document(schema: dict[str, Any]) -> None:
    documented_views = set()
    undocumented = []
    for regex, callback in api_routes():
        path = documented_path(regex)
        if not path.startswith("/api/") or path in NOT_OPERATIONS:
            continue
        if path in schema["paths"]:
            documented_views.add(getattr(callback, "cls", callback))
        else:
            undocumented.append((path, callback))
    # A route left out is only a second spelling of a documented one (the cli's name-in-path
    # forms and its aliases): a subclass of a documented view that adds nothing.
    missing = [
        path
        for path, callback in undocumented
        if not (hasattr(callback, "cls") and callback.cls.__bases__[0] in documented_views)
    ]
    assert missing == []
    assert len(undocumented) == 7
    assert len(schema["paths"]) == 38


def test_the_chat_and_openai_doors_are_documented_with_their_methods(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    assert sorted(paths["/api/v1/chatbots/{name}/chat/"]) == ["post"]
    assert sorted(paths["/api/v1/chatbots/{name}/config/"]) == ["get", "post"]
    assert sorted(paths["/api/v1/openai/chat/completions"]) == ["post"]
    assert sorted(paths["/api/v1/openai/models"]) == ["get"]
    assert sorted(paths["/api/v1/openai/embeddings"]) == ["post"]
    chat = paths["/api/v1/chatbots/{name}/chat/"]["post"]
    assert chat["security"] == [{"apiKey": []}]
    body = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == ["prompt"]


def test_no_path_has_an_empty_segment(schema: dict[str, Any]) -> None:
    assert [path for path in schema["paths"] if "//" in path] == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")
def test_swagger_ui_shows_the_doors(asgi_server: Any, smarter_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{asgi_server.url}/api/docs/")
        for path in DOORS:
            page.locator(f'.opblock-summary-path[data-path="{path}"]').first.wait_for(timeout=15_000)
        shown = page.locator(".opblock-summary-path").evaluate_all("nodes => nodes.map(n => n.dataset.path)")
        browser.close()
    assert set(DOORS) <= set(shown)
