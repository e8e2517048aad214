"""What Django's middleware would do for the completions path the lean route answers in front of
Django (`openai_route`), derived from the same settings once, at start-up.

- The security headers are what the configured SecurityMiddleware and XFrameOptionsMiddleware add
  to an answer of this path: their own `process_response`, run at start-up on a probe request
  (plain and HTTPS), so their values cannot drift from Django's.
- The hosts are the platform's own that ALLOWED_HOSTS admits; `USE_X_FORWARDED_HOST` names the
  host as Django reads it.
- What the route does not do itself, it leaves to Django: a plain-HTTP request under
  SECURE_SSL_REDIRECT (Django redirects it, or serves it when SECURE_REDIRECT_EXEMPT says so), any
  request under PREPEND_WWW, and a user agent DISALLOWED_USER_AGENTS names.
- The body bound is the door's, or Django's DATA_UPLOAD_MAX_MEMORY_SIZE when that is smaller.

`unapplied()` names whatever the settings hold that the route does not apply: a middleware it
does not know, a SECURE_* setting it does not know, the path's view no longer the door or no
longer CSRF-exempt. The system check `smarter.E010` reports it, so the drift fails `manage.py
check` (and CI) before it reaches a client. Settings changed at run time (tests) derive it anew.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.request import validate_host
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from smarter.apps.chatbot.routing import platform_hosts
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES
from smarter.lib.http.middleware import STANDS_FOR

PATH = "/api/v1/openai/chat/completions"

Headers = tuple[tuple[bytes, bytes], ...]

# Every middleware the route knows, and what it does about it on this path.
HEADERS = "its response headers are derived from its own process_response"
KNOWN_MIDDLEWARE = {
    "smarter.apps.chatbot.public.middleware.HostRoutingMiddleware": "only the platform's own hosts are served",
    "smarter.lib.observability.RequestContextMiddleware": "the request id and the access-log line",
    "smarter.lib.http.middleware.SecurityMiddleware": "HTTPS redirect left to Django; " + HEADERS,
    "smarter.lib.http.middleware.StaticFilesMiddleware": "the path is not a static file",
    "smarter.lib.http.middleware.SessionMiddleware": "no session: the API key authenticates, no cookie",
    "smarter.lib.http.middleware.CommonMiddleware": "exact path; PREPEND_WWW and user-agent refusals left to Django",
    "smarter.lib.http.middleware.CsrfViewMiddleware": "the door is CSRF-exempt (an API key, not a cookie)",
    "smarter.lib.http.middleware.AuthenticationMiddleware": "no user from a session",
    "smarter.lib.http.middleware.MessageMiddleware": "no messages",
    "smarter.lib.http.middleware.XFrameOptionsMiddleware": HEADERS,
}
# Django's own classes do the same as ours.
KNOWN_MIDDLEWARE.update({STANDS_FOR[ours]: role for ours, role in list(KNOWN_MIDDLEWARE.items()) if ours in STANDS_FOR})
_HEADER_MIDDLEWARE = {path for path, role in KNOWN_MIDDLEWARE.items() if role.endswith(HEADERS)}

# The SECURE_* settings the route applies (or leaves to Django with the request).
KNOWN_SECURE_SETTINGS = frozenset(
    {
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY",
        "SECURE_SSL_REDIRECT",
        "SECURE_SSL_HOST",
        "SECURE_REDIRECT_EXEMPT",
        "SECURE_PROXY_SSL_HEADER",
    }
)


@dataclass(frozen=True)
class LeanPolicy:
    hosts: frozenset[str]
    forwarded_host: bool
    https_only: bool
    proxy_ssl_header: tuple[str, str] | None  # (ASGI header name, value meaning HTTPS)
    secure_headers: Headers
    plain_headers: Headers
    max_body_bytes: int
    steps_aside: bool  # PREPEND_WWW: Django answers every request
    disallowed_agents: tuple[re.Pattern[str], ...]

    def headers(self, secure: bool) -> Headers:
        return self.secure_headers if secure else self.plain_headers


@functools.cache
def lean_policy() -> LeanPolicy:
    proxy = settings.SECURE_PROXY_SSL_HEADER
    proxy_header = None
    if proxy:
        meta_name, expected = proxy
        proxy_header = (meta_name.removeprefix("HTTP_").replace("_", "-").lower(), expected)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's own host check does
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return LeanPolicy(
        hosts=frozenset(host for host in platform_hosts() if validate_host(host, allowed)),
        forwarded_host=bool(settings.USE_X_FORWARDED_HOST),
        https_only=bool(settings.SECURE_SSL_REDIRECT),
        proxy_ssl_header=proxy_header,
        secure_headers=_security_headers(secure=True),
        plain_headers=_security_headers(secure=False),
        max_body_bytes=MAX_CHAT_BODY_BYTES if limit is None else min(MAX_CHAT_BODY_BYTES, limit),
        steps_aside=bool(settings.PREPEND_WWW),
        disallowed_agents=tuple(re.compile(pattern) for pattern in settings.DISALLOWED_USER_AGENTS),
    )


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    lean_policy.cache_clear()


def _security_headers(*, secure: bool) -> Headers:
    """What the configured header middleware add to a JSON answer of this path."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "scheme": "https" if secure else "http",
        "headers": [(b"host", b"localhost")],
        "query_string": b"",
    }
    request = ASGIRequest(scope, io.BytesIO())
    response = HttpResponse(content_type="application/json")
    before = {name.lower() for name in response.headers}
    for path in settings.MIDDLEWARE:
        if path in _HEADER_MIDDLEWARE:
            # Only the response hook runs; the chain behind it is never called.
            middleware = import_string(path)(_never_called)
            response = middleware.process_response(request, response)
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.items()
        if name.lower() not in before
    )


def _never_called(request: Any) -> HttpResponse:
    raise AssertionError("only process_response of a header middleware runs at start-up")


def unapplied() -> list[str]:
    """What the settings ask of this path that the lean route does not do."""
    found = [
        f"MIDDLEWARE holds {path}, which the lean route does not know"
        for path in settings.MIDDLEWARE
        if path not in KNOWN_MIDDLEWARE
    ]
    found += [
        f"{name} is set, and the lean route does not apply it"
        for name in dir(settings)
        if name.startswith("SECURE_") and name not in KNOWN_SECURE_SETTINGS and getattr(settings, name)
    ]
    from smarter.apps.chat.api.openai import chat_completions  # the door's Django view

    try:
        view = resolve(PATH).func
    except Resolver404:
        view = None
    if view is not chat_completions:
        found.append(f"{PATH} no longer resolves to the door's view (chat_completions)")
    elif not getattr(view, "csrf_exempt", False):
        found.append(f"the view of {PATH} is not CSRF-exempt, which the lean route takes it to be")
    return found
