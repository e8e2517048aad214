"""Who is on the other end of a request: the address rate limits and records use.

It is the connecting address (the socket peer), unless that peer is one of the reverse proxies
named in `SMARTER_TRUSTED_PROXIES`; then it is the right-most address of `X-Forwarded-For` that is
not itself a trusted proxy (each proxy appends the address it saw, so everything left of that is
whatever the client chose to send). `Forwarded`, `X-Real-IP` and any other header are ignored.

`TrustedProxyHeaders` decides it once per request, as the outermost layer of the served
application, with uvicorn's own `ProxyHeadersMiddleware` (which accepts CIDR ranges) configured
from the setting: every door, Django's and the lean OpenAI route alike, then reads the same
`scope["client"]`. The web server must not decide it too, or a client's header would already
have replaced the peer: the image, the chart and compose start gunicorn with
`--forwarded-allow-ips=` (no proxy trusted by the server itself), `make run` and the test server
start uvicorn without proxy headers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]


def canonical_ip(value: str | None) -> str | None:
    """`value` as one canonical IP address, or None when it is not one.

    `::ffff:203.0.113.7` is `203.0.113.7`; a port or brackets some proxies write
    (`203.0.113.7:4711`, `[2001:db8::1]:443`) are dropped. Anything else (a name, garbage) is
    None rather than a string that would fail to be stored as an address.
    """
    if not value:
        return None
    text = value.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for a Django request (what `TrustedProxyHeaders` decided)."""
    return canonical_ip(request.META.get("REMOTE_ADDR"))


def scope_client_ip(scope: Scope) -> str | None:
    """The client's address for an ASGI request served in front of Django."""
    client = scope.get("client")
    return canonical_ip(client[0]) if client else None


class TrustedProxyHeaders:
    """ASGI middleware: believe `X-Forwarded-For` and `X-Forwarded-Proto` from trusted proxies only.

    The setting is read per request (a test may change it); the middleware for each value is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._by_setting: dict[tuple[str, ...], ProxyHeadersMiddleware] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        trusted = tuple(settings.SMARTER.trusted_proxy_networks)
        if not trusted or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        middleware = self._by_setting.get(trusted)
        if middleware is None:
            middleware = self._by_setting[trusted] = ProxyHeadersMiddleware(self.app, trusted_hosts=list(trusted))
        await middleware(cast(Any, scope), receive, send)
