"""Stand-ins for the messaging providers' REST APIs on loopback, and the providers' webhook
signatures, for tests and benchmarks.

`MessagingStub` is a real HTTP server (aiohttp, in a background thread) that answers as Meta's
Graph API and Twilio's REST API answer a message send:

- `POST /{version}/{phoneNumberId}/messages` (JSON, Bearer token) → `{"messages": [{"id": "wamid..."}]}`
- `POST /2010-04-01/Accounts/{sid}/Messages.json` (form, basic auth) → 201 `{"sid": "SM...", ...}`

Every send is recorded (`sends`, each with the time it arrived); `refuse(times, status, body)`
makes the next sends fail the way the provider fails. A channel points at it with `graphBaseUrl:
{stub.graph_url}` or `apiBaseUrl: {stub.twilio_url}`. `GET /_sends?since=N` answers the sends
recorded from the N-th on as JSON, so that a process of its own can be read from outside.

The signatures are computed here from the providers' documented algorithms (not with their
SDKs, so that a test checks the platform's verification against an independent reading):
Meta's `X-Hub-Signature-256` is `sha256=` + the hex HMAC-SHA256 of the raw body keyed by the
app secret; Twilio's `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed by the auth token, of
the full URL followed by each POST parameter's name and value, sorted by name.

As a process, for benchmarks: `python -m smarter.testing.messaging_stub --port 18002` (`--port 0`
picks a free port; the first line printed names it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

GRAPH_VERSION = "v21.0"


def meta_signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(url: str, params: Iterable[tuple[str, str]] | dict[str, str], auth_token: str) -> str:
    pairs = sorted(params.items() if isinstance(params, dict) else params)
    text = url + "".join(name + value for name, value in pairs)
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class Send:
    """One message the platform sent: which provider, to whom, what, with which credentials."""

    provider: str  # whatsapp | twilio
    path: str
    authorization: str
    to: str
    text: str
    body: dict[str, Any]
    provider_id: str
    status: int
    received_at: float = 0.0  # epoch seconds when the request arrived (before any delay)

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "path": self.path,
            "to": self.to,
            "text": self.text,
            "body": self.body,
            "providerId": self.provider_id,
            "status": self.status,
            "receivedAt": self.received_at,
        }


@dataclass(frozen=True)
class Refusal:
    status: int
    body: dict[str, Any]


class MessagingStub:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.delay = delay
        self._sends: list[Send] = []
        self._refusals: deque[Refusal] = deque()
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- scripting and inspection ---
    @property
    def graph_url(self) -> str:
        return f"http://{self.host}:{self.port}/{GRAPH_VERSION}"

    @property
    def twilio_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def refuse(self, times: int, status: int = 503, body: dict[str, Any] | None = None) -> None:
        """Fail the next `times` sends with `status` and `body` (the provider's error shape)."""
        with self._changed:
            self._refusals.extend(Refusal(status, body or {}) for _ in range(times))

    @property
    def sends(self) -> list[Send]:
        with self._changed:
            return list(self._sends)

    def delivered(self) -> list[Send]:
        """The sends the stub accepted."""
        return [send for send in self.sends if send.status < 400]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # --- the server ---
    async def _recorded(self, request: web.Request) -> web.StreamResponse:
        try:
            since = max(0, int(request.query.get("since", "0")))
        except ValueError:
            return web.json_response({"error": {"message": "since must be a number", "code": 100}}, status=400)
        sends = self.sends
        return web.json_response({"count": len(sends), "sends": [send.as_json() for send in sends[since:]]})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        raw = await request.read()
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and len(parts) == 3 and parts[2] == "messages":
            provider = "whatsapp"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return web.json_response({"error": {"message": "bad JSON", "code": 100}}, status=400)
            to, text = str(body.get("to", "")), str((body.get("text") or {}).get("body", ""))
        elif request.method == "POST" and request.path.startswith("/2010-04-01/Accounts/"):
            provider = "twilio"
            body = dict(urllib.parse.parse_qsl(raw.decode()))
            to, text = body.get("To", ""), body.get("Body", "")
        else:
            return web.json_response({"error": {"message": "unknown path", "code": 100}}, status=404)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._changed:
            refusal = self._refusals.popleft() if self._refusals else None
            number = next(self._ids)
        provider_id = f"wamid.out.{number}" if provider == "whatsapp" else f"SM{number:032x}"
        status = refusal.status if refusal else (200 if provider == "whatsapp" else 201)
        send = Send(
            provider,
            request.path,
            request.headers.get("Authorization", ""),
            to,
            text,
            body,
            provider_id,
            status,
            arrived,
        )
        with self._changed:
            self._sends.append(send)
            self._changed.notify_all()
        if refusal is not None:
            return web.json_response(refusal.body, status=refusal.status)
        if provider == "whatsapp":
            answer: dict[str, Any] = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": provider_id}],
            }
        else:
            answer = {"sid": provider_id, "status": "queued", "to": to, "body": text}
        return web.json_response(answer, status=status)

    async def start_async(self) -> MessagingStub:
        application = web.Application()
        application.router.add_get("/_sends", self._recorded)
        application.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, backlog=1024).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    def start(self) -> MessagingStub:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start_async())
            ready.set()
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="messaging-stub", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> MessagingStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Graph API and Twilio REST stand-in on loopback")
    parser.add_argument("--port", type=int, default=18002)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    arguments = parser.parse_args()
    stub = MessagingStub(port=arguments.port, delay=arguments.delay_ms / 1000)
    asyncio.run(_serve(stub))


async def _serve(stub: MessagingStub) -> None:
    await stub.start_async()
    print(f"messaging stub on {stub.twilio_url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    main()
