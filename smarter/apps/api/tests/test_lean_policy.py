"""The completions path answered in front of Django does what Django's middleware and security
settings would, derived from the same settings; the system check fails when they ask for
something it does not do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.checks import run_checks
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from conftest import AsgiServer
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.lean_policy import PATH, lean_policy
from smarter.apps.api.openai_route import OpenAIChatRoute
from smarter.apps.api.tests.test_openai_route import _teapot
from smarter.lib.client_address import TrustedProxyHeaders

ASK = {"model": "support", "messages": [{"role": "user", "content": "Hello?"}]}
PER_ANSWER = {"date", "server", "content-length", "x-request-id"}


def _not_the_door(request: HttpRequest) -> JsonResponse:
    return JsonResponse({})


# A URLconf where the completions path is some other view (ROOT_URLCONF points here in a test).
urlpatterns = [
    path("api/v1/openai/chat/completions", _not_the_door),
    path("", include("smarter.urls")),
]


def _e010(settings: Any) -> list[str]:
    return [message.msg for message in run_checks() if message.id == "smarter.E010"]


def test_the_configured_settings_ask_nothing_the_lean_route_does_not_do(settings: Any) -> None:
    assert _e010(settings) == []


@pytest.mark.parametrize(
    "middleware",
    [
        "django.middleware.gzip.GZipMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.http.ConditionalGetMiddleware",
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
        "django.contrib.sites.middleware.CurrentSiteMiddleware",
        "waffle.middleware.WaffleMiddleware",
    ],
)
@pytest.mark.parametrize("where", ["first", "last"])
def test_the_check_fails_for_a_middleware_the_lean_route_does_not_apply(
    settings: Any, middleware: str, where: str
) -> None:
    configured = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [middleware, *configured] if where == "first" else [*configured, middleware]
    assert _e010(settings) == [
        f"MIDDLEWARE holds {middleware}, which the lean route does not know: the OpenAI completions path "
        "answered in front of Django would not do as Django does."
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECURE_CSP", {"default-src": ["'self'"]}),
        ("SECURE_CSP_REPORT_ONLY", {"default-src": ["'self'"]}),
        ("SECURE_CROSS_ORIGIN_EMBEDDER_POLICY", "require-corp"),
        ("SECURE_SOMETHING_NEW", True),
    ],
)
def test_the_check_fails_for_a_security_setting_the_lean_route_does_not_apply(
    settings: Any, name: str, value: Any
) -> None:
    setattr(settings, name, value)
    assert _e010(settings) == [
        f"{name} is set, and the lean route does not apply it: the OpenAI completions path answered in front "
        "of Django would not do as Django does."
    ]
    setattr(settings, name, None)  # unset (the default of such settings): nothing to apply
    assert _e010(settings) == []


def test_the_check_fails_when_the_path_is_no_longer_the_doors(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__
    assert _e010(settings) == [
        f"{PATH} no longer resolves to the door's view (chat_completions): the OpenAI completions path answered "
        "in front of Django would not do as Django does."
    ]


# --- the route answers as Django would ------------------------------------------------------------

SECURITY_VARIANTS = {
    "as configured": {},
    "hsts for a year, preloaded": {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    },
    "hsts without subdomains": {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_HSTS_SECONDS": 60,
    },
    "a referrer policy with a fallback": {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin"},
    "a referrer policy as a list": {"SECURE_REFERRER_POLICY": ["same-origin", "no-referrer"]},
    "no referrer policy, opener policy, nor nosniff": {
        "SECURE_REFERRER_POLICY": None,
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
        "SECURE_CONTENT_TYPE_NOSNIFF": False,
    },
    "framing by the same origin": {"X_FRAME_OPTIONS": "SAMEORIGIN"},
}


def _started_after() -> AsgiServer:
    """The served application as `smarter.asgi` builds it, started now: Django's middleware, like
    the lean route, read their settings when the application starts."""
    server = AsgiServer(app=TrustedProxyHeaders(OpenAIChatRoute(ASGIHandler())))
    server.start()
    return server


@pytest.mark.parametrize("variant", SECURITY_VARIANTS, ids=list(SECURITY_VARIANTS))
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_route_and_django_send_the_same_headers_whatever_the_security_settings(
    settings: Any, transactional_db: None, variant: str, scheme: str
) -> None:
    for name, value in SECURITY_VARIANTS[variant].items():
        setattr(settings, name, value)
    headers = {"Authorization": "Bearer sk-not-a-key", "X-Forwarded-Proto": scheme}
    server = _started_after()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        route = client.post(PATH, json=ASK, headers=headers)  # without a slash: the lean route's
        django = client.post(f"{PATH}/", json=ASK, headers=headers)
    server.stop()
    assert route.status_code == django.status_code == 401

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}

    assert comparable(route) == comparable(django)
    assert route.json()["error"] == django.json()["error"]


def test_a_smaller_django_body_limit_refuses_the_same_body_on_both_paths(
    settings: Any, owner: Persona, transactional_db: None
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = json.dumps({**ASK, "messages": [{"role": "user", "content": "x" * 5000}]})
    headers = {"Authorization": f"Bearer {owner.key}", "Content-Type": "application/json"}
    server = _started_after()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        route = client.post(PATH, content=body, headers=headers)
        django = client.post(f"{PATH}/", content=body, headers=headers)
    server.stop()
    assert route.status_code == django.status_code == 413
    assert route.json()["error"] == django.json()["error"]
    assert lean_policy().max_body_bytes == 2000


@pytest.fixture
def route_only(transactional_db: None) -> Iterator[AsgiServer]:
    server = AsgiServer(app=OpenAIChatRoute(_teapot))
    server.start()
    yield server
    server.stop()


LEFT_TO_DJANGO = {
    "every host gets www. prepended": ({"PREPEND_WWW": True}, {}),
    "a disallowed user agent": ({"DISALLOWED_USER_AGENTS": [r"^BadBot"]}, {"User-Agent": "BadBot/1.0"}),
    "a host ALLOWED_HOSTS does not admit": ({"ALLOWED_HOSTS": ["api.example.com"]}, {}),
    "plain HTTP under HTTPS redirects": (
        {"SECURE_SSL_REDIRECT": True, "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},
        {"X-Forwarded-Proto": "http"},
    ),
    "a forwarded host that is a chatbot's": (
        {"USE_X_FORWARDED_HOST": True},
        {"X-Forwarded-Host": "support.1234-5678-9012.api.example.com"},
    ),
}


@pytest.mark.parametrize("case", LEFT_TO_DJANGO, ids=list(LEFT_TO_DJANGO))
def test_what_the_route_does_not_do_itself_it_leaves_to_django(
    settings: Any, route_only: AsgiServer, case: str
) -> None:
    changed, headers = LEFT_TO_DJANGO[case]
    for name, value in changed.items():
        setattr(settings, name, value)
    with httpx.Client(base_url=route_only.url, timeout=30) as client:
        response = client.post(PATH, json=ASK, headers={"Authorization": "Bearer sk-not-a-key", **headers})
    assert (response.status_code, response.text) == (418, "passed on")


@pytest.mark.parametrize(
    ("changed", "headers"),
    [
        ({}, {}),
        ({"USE_X_FORWARDED_HOST": True}, {"Host": "elsewhere.example", "X-Forwarded-Host": "localhost"}),
        ({"DISALLOWED_USER_AGENTS": [r"^BadBot"]}, {"User-Agent": "GoodBot/1.0"}),
        (
            {"SECURE_SSL_REDIRECT": True, "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},
            {"X-Forwarded-Proto": "https"},
        ),
    ],
    ids=["as configured", "a forwarded platform host", "an allowed user agent", "HTTPS behind the proxy"],
)
def test_the_route_answers_what_it_applies_itself(
    settings: Any, route_only: AsgiServer, changed: dict[str, Any], headers: dict[str, str]
) -> None:
    for name, value in changed.items():
        setattr(settings, name, value)
    with httpx.Client(base_url=route_only.url, timeout=30) as client:
        response = client.post(PATH, json=ASK, headers={"Authorization": "Bearer sk-not-a-key", **headers})
    assert response.status_code == 401
    assert response.json()["errorClass"] == "NotAuthenticated"
