"""Error reports to Sentry: what a failing request or task sends, caught by a transport of our
own (no network), holds its request id and no prompt, key or secret in any form; with no DSN,
nothing is started."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sentry_sdk
from cryptography.fernet import Fernet
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from smarter.apps.account.tests.billing_support import Worker, celery_mode, mariadb_url_or_skip, wait_until
from smarter.celery import app
from smarter.lib.crypto import generate_api_key
from smarter.lib.error_reporting import WITHHELD, error_reporting_start, scrub_event
from smarter.lib.observability import bind_turn
from smarter.lib.redaction import secret_forms

log = logging.getLogger("smarter.tests.error_reporting")

# What a tenant sends and must never be reported, made afresh for each run. The names are far
# from the views below: a reported frame shows a few source lines around the failing one.
PROMPT = f"Which code opens vault Nightingale-{secrets.token_hex(3)}? Answer in one word."
API_KEY = generate_api_key().plaintext
OPENAI_KEY = f"sk-proj-{secrets.token_urlsafe(24)}"
FERNET_TOKEN = Fernet(Fernet.generate_key()).encrypt(b"a tenant's database password").decode()
DB_PASSWORD = f"Pa55-{secrets.token_urlsafe(9)}"
DB_URL = f"mysql://crm:{DB_PASSWORD}@db.internal:3306/crm"
BEARER = secrets.token_urlsafe(24)
SECRETS = {
    "prompt": PROMPT,
    "api key": API_KEY,
    "openai key": OPENAI_KEY,
    "fernet token": FERNET_TOKEN,
    "database password": DB_PASSWORD,
    "bearer token": BEARER,
}


def _basic(secret: str) -> str:
    return base64.b64encode(f"ada:{secret}".encode()).decode()


def _every_form(value: str) -> set[str]:
    """Plain, URL- and form-encoded, JSON- and HTML-escaped, base64 alone and as ada's basic auth."""
    return secret_forms(value, username="ada")


def _leaks(text: str) -> list[str]:
    return sorted({name for name, value in SECRETS.items() for form in _every_form(value) if form in text})


# --- what the failing views are given ------------------------------------------------------------
def _quoting_everything() -> str:
    """A message as careless code would write it: every secret in several forms."""
    quoted = []
    for value in (PROMPT, *SECRETS.values(), DB_URL):
        quoted += [value, quote(value, safe=""), json.dumps(value), _basic(value)]
    return " ".join(quoted)


def _log_what_it_was_given(request: HttpRequest) -> None:
    # Values as arguments (the house style): not sent. Formatted ahead: scrubbed by their shape.
    log.info("asked %s with key %s", request.GET.get("q"), request.headers.get("X-Api-Key"))
    log.warning(
        f"calling with {API_KEY} {OPENAI_KEY} {FERNET_TOKEN} Bearer {BEARER} Basic {_basic(DB_PASSWORD)} "
        f"{DB_URL} {quote(DB_URL, safe='')} {json.dumps(DB_URL).replace('/', chr(92) + '/')} "
        f"{quote(FERNET_TOKEN, safe='')} Bearer%20{BEARER} https://example.com/x?q={quote(PROMPT)}&key={API_KEY}"
    )


@csrf_exempt
def _fails_quoting_what_it_was_given(request: HttpRequest) -> JsonResponse:
    _log_what_it_was_given(request)
    raise RuntimeError(f"could not answer: {_quoting_everything()} {request.body.decode(errors='replace')}")


@app.task(name="smarter.lib.tests.test_error_reporting.fail_quoting_task")
def fail_quoting_task(prompt: str, quoted: str) -> None:
    log.info("processing %s", prompt)
    # What it quotes comes from the caller: a worker importing this module makes secrets of its own.
    raise RuntimeError(f"could not process {prompt} {quoted}")


@csrf_exempt
def _enqueues_a_failing_task(request: HttpRequest) -> JsonResponse:
    bind_turn(4242)  # as a turn's code after it is recorded
    fail_quoting_task.delay(PROMPT, _quoting_everything())
    return JsonResponse({"queued": True})


urlpatterns = [
    path("fails/", _fails_quoting_what_it_was_given),
    path("enqueues/", _enqueues_a_failing_task),
    path("", include("smarter.urls")),
]


# --- a Sentry of our own --------------------------------------------------------------------------
class CapturingTransport(Transport):
    """Keeps every envelope the SDK would send, serialized exactly as it would leave."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    @property
    def sent(self) -> str:
        return "\n".join(envelope.serialize().decode() for envelope in self.envelopes)

    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.envelopes if (event := envelope.get_event()) is not None]

    def wait_for_events(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()


@pytest.fixture
def sentry(smarter_settings: Any) -> Iterator[CapturingTransport]:
    """Sentry started as the platform starts it (traces on, so transactions are checked too)."""
    smarter_settings.sentry_dsn = "https://public@sentry.example.com/1"
    smarter_settings.sentry_traces_sample_rate = 1.0
    transport = CapturingTransport()
    assert error_reporting_start(transport=transport) is True
    sentry_sdk.get_isolation_scope().clear_breadcrumbs()
    try:
        yield transport
    finally:
        sentry_sdk.flush()
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


def test_with_no_dsn_no_client_is_started(smarter_settings: Any) -> None:
    smarter_settings.sentry_dsn = None
    assert error_reporting_start() is False
    assert sentry_sdk.get_client().is_active() is False


@pytest.mark.parametrize("body_as", ["json", "form"])
def test_a_failing_request_is_reported_with_its_request_id_and_nothing_a_tenant_sent(
    sentry: CapturingTransport, asgi_server: Any, settings: Any, body_as: str
) -> None:
    settings.ROOT_URLCONF = __name__
    given = {"prompt": PROMPT, "key": API_KEY, "openai": OPENAI_KEY, "token": FERNET_TOKEN, "database": DB_URL}
    body = {"json": given} if body_as == "json" else {"data": given}
    response = httpx.post(
        f"{asgi_server.url}/fails/",
        params={"q": PROMPT, "api_key": API_KEY, "dsn": DB_URL, "token": FERNET_TOKEN},
        headers={
            "Authorization": f"Bearer {BEARER}",
            "Proxy-Authorization": f"Basic {_basic(DB_PASSWORD)}",
            "X-Api-Key": API_KEY,
            "Cookie": f"sessionid={OPENAI_KEY}; prompt={quote(PROMPT)}",
            "X-Hub-Signature-256": f"sha256={OPENAI_KEY}",
            "X-Twilio-Signature": base64.b64encode(FERNET_TOKEN.encode()).decode(),
            "X-Conversation": PROMPT,
            "User-Agent": "acme-client/1.0",
        },
        timeout=30,
        **body,  # type: ignore[arg-type]
    )
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    events = [e for e in sentry.wait_for_events(1) if e.get("exception")]
    sentry_sdk.flush()

    assert _leaks(sentry.sent) == []
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["request_id"] == request_id
    assert [(e["type"], e["value"]) for e in event["exception"]["values"]] == [("RuntimeError", WITHHELD)]
    assert event["exception"]["values"][0]["stacktrace"]["frames"][-1]["function"] == "_fails_quoting_what_it_was_given"
    reported = event["request"]
    assert reported["method"] == "POST"
    assert reported["url"].endswith("/fails/")
    assert reported["query_string"] == "q=***&api_key=***&dsn=***&token=***"
    assert "data" not in reported and "cookies" not in reported
    headers = {name.lower(): value for name, value in reported["headers"].items()}
    for name in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "cookie",
        "x-hub-signature-256",
        "x-twilio-signature",
        "x-conversation",
    ):
        assert headers[name] == "***", name
    assert headers["user-agent"] == "acme-client/1.0"
    crumbs = [(c["category"], c["message"]) for c in event["breadcrumbs"]["values"] if c.get("type") == "log"]
    assert ("smarter.tests.error_reporting", "asked %s with key %s") in crumbs
    [formatted] = [message for category, message in crumbs if message.startswith("calling with")]
    assert formatted.count("***") == 12
    assert "mysql://crm:***@db.internal:3306/crm" in formatted
    assert "https://example.com/x?q=***&key=***" in formatted


class SentryIngest:
    """Sentry's envelope endpoint on loopback (`http://public@127.0.0.1:<port>/1` as the DSN), for
    a process of its own: what its SDK really sends over HTTP, decompressed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ingest.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public@127.0.0.1:{self.server.server_address[1]}/1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def sent(self) -> str:
        return b"\n".join(self.bodies).decode(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        envelopes = [Envelope.deserialize(body) for body in self.bodies]
        return [event for envelope in envelopes if (event := envelope.get_event()) is not None]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_failing_task_is_reported_with_the_request_id_of_the_request_that_enqueued_it(
    asgi_server: Any, settings: Any, redis_url: str
) -> None:
    """A real `celery worker` process, started as the chart starts one with a DSN, reporting to
    a Sentry endpoint on loopback; the task enqueued by a request of the served platform."""
    settings.ROOT_URLCONF = __name__
    ingest = SentryIngest()
    worker = Worker(
        database_url=mariadb_url_or_skip(),
        broker_url=redis_url,
        concurrency=1,
        env={"SMARTER_SENTRY_DSN": ingest.dsn},
        include=(__name__,),
    )
    try:
        with celery_mode(eager=False, broker_url=redis_url):
            worker.start()
            response = httpx.post(f"{asgi_server.url}/enqueues/", headers={"X-Api-Key": API_KEY}, timeout=30)
            assert response.status_code == 200
            assert wait_until(lambda: ingest.events(), timeout=120), "no event reached the Sentry endpoint"
    finally:
        worker.stop()
        ingest.stop()

    # Stopping the worker can catch its pool process still sending the report: the worker then
    # logs (and reports) the process it lost. The task's own failure is reported once.
    events = [
        event
        for event in ingest.events()
        if [value["type"] for value in event.get("exception", {}).get("values", [])] == ["RuntimeError"]
    ]
    assert len(events) == 1, ingest.events()
    event = events[0]
    assert event["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert event["tags"]["turn_id"] == "4242"
    assert event["tags"]["celery_task_id"]
    assert [(e["type"], e["value"]) for e in event["exception"]["values"]] == [("RuntimeError", WITHHELD)]
    assert event["extra"]["celery-job"]["task_name"] == "smarter.lib.tests.test_error_reporting.fail_quoting_task"
    assert _leaks(ingest.sent) == []


def test_any_shape_of_event_is_scrubbed() -> None:
    """Fields the integrations do not fill today (a capture_message, extra, contexts, tags,
    spans) are scrubbed all the same."""
    event: Any = {
        "message": f"manual report {OPENAI_KEY} Bearer {BEARER}",
        "logentry": {"message": "asked %s", "params": [PROMPT], "formatted": f"asked {PROMPT}"},
        "extra": {"dsn": DB_URL, API_KEY: [FERNET_TOKEN, {"nested": quote(DB_URL, safe="")}]},
        "contexts": {"upstream": {"url": f"https://api.example.com/v1?key={quote(PROMPT)}"}},
        "tags": {"token": FERNET_TOKEN},
        "spans": [{"description": f"GET https://crm.example.com/find?name={quote(PROMPT)}&key={OPENAI_KEY}"}],
        "user": {"ip_address": "203.0.113.9", "email": "ada@example.com"},
    }
    scrubbed = scrub_event(event, {})
    assert _leaks(json.dumps(scrubbed)) == []
    assert scrubbed["message"] == "manual report *** Bearer ***"
    assert scrubbed["logentry"] == {"message": "asked %s"}
    assert scrubbed["extra"]["dsn"] == "mysql://crm:***@db.internal:3306/crm"
    assert scrubbed["spans"][0]["description"] == "GET https://crm.example.com/find?name=***&key=***"
    assert "user" not in scrubbed
