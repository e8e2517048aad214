"""The console's Content-Security-Policy, sent with every page of the console.

The console shows what tenants wrote (names, prompts, URLs of logos and backgrounds), so, as the
public chatbot page does, it lets the browser run only the platform's own scripts and styles:
no inline script, no style attribute (a tenant value placed in one could become CSS), nothing
framed elsewhere. Images may come from anywhere over http(s), because a chatbot's preview shows
the tenant's logo and background; the page's scripts set those from script, never as CSS text.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.urls import URLPattern

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _with_policy(response: Any) -> Any:
    response.setdefault("Content-Security-Policy", CONSOLE_POLICY)
    return response


def console_policy(view: Callable[..., Any]) -> Callable[..., Any]:
    """`view`, its responses carrying the console's policy (sync and async views alike)."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return _with_policy(await view(*args, **kwargs))

        return async_wrapper

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _with_policy(view(*args, **kwargs))

    return wrapper


def with_console_policy(patterns: list[URLPattern]) -> list[URLPattern]:
    """Every route of the console with its policy: a page added later cannot be left without it."""
    return [
        URLPattern(pattern.pattern, console_policy(pattern.callback), pattern.default_args, pattern.name)
        for pattern in patterns
    ]
