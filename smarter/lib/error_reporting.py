"""Errors of the web processes and the Celery workers to Sentry, when `SMARTER_SENTRY_DSN` is set.

Unhandled exceptions of views and tasks, and log records of level ERROR and above, become events;
lower records become their breadcrumbs. Each event is tagged with the request id (a worker's
event with the id of the request that enqueued the task), the turn id once a chat turn is
recorded, and the account number.

An event says where and what failed, never with what: tenants' prompts, answers, keys and
secrets pass through the code that fails, so every event goes through `scrub_event` (and every
breadcrumb through `scrub_breadcrumb`) before it leaves the process, whatever its shape:

- a request keeps its method, path and the values of a few descriptive headers (`SAFE_HEADERS`);
  its body and cookies are dropped, the other headers' values (Authorization, Cookie, X-Api-Key,
  signatures, anything unknown) and the values of its query string become `***`;
- an exception keeps its type, module and stack (file, function, line and source line; frames'
  local variables are never collected), and its message is withheld: a message quotes what the
  code was given (a prompt, an upstream's reply, a driver's complaint about a credential), and no
  pattern recognises a prompt. The request id and turn id lead to the message in the platform's
  own logs and the turn's stored error;
- a log record keeps its message template (`"tools of %s failed"`), not its arguments, which is
  where values go by the house style;
- every remaining string (messages, breadcrumbs, extra, contexts, tags, span descriptions) has
  the secrets of `smarter.lib.redaction` scrubbing_logs active at that moment, anything shaped
  like a credential (`CredentialRedactor`) and the values of URLs' query strings replaced by `***`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings

from smarter import __version__
from smarter.lib.observability import account_var, request_id_var, turn_id_var
from smarter.lib.redaction import REDACTED, CredentialRedactor, active_redactor

if TYPE_CHECKING:
    from sentry_sdk._types import Breadcrumb, BreadcrumbHint, Event, Hint
    from sentry_sdk.transport import Transport

# Request headers whose values describe the client, not its credentials or its data.
SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-request-id",
    }
)
WITHHELD = "(message withheld: find it in the logs by the event's request_id)"

_URL_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#\"'<>]*)?/[^\s?#\"'<>]*\?)([^\s#\"'<>]+)")


def _query_without_values(query: str) -> str:
    """`a=1&b=2` as `a=***&b=***`: the names say what was asked, the values may be anything."""
    parts = re.split(r"([&;])", query)
    return "".join(
        part if part in ("&", ";", "") else (part.split("=", 1)[0] + "=" + REDACTED if "=" in part else REDACTED)
        for part in parts
    )


class _ReportRedactor(CredentialRedactor):
    """Known secrets, credential shapes and URLs' query values, in every string of an event."""

    def text(self, text: str) -> str:
        text = super().text(text)
        if "?" in text:
            text = _URL_QUERY.sub(lambda match: match.group(1) + _query_without_values(match.group(2)), text)
        return text


def _scrub_request(request: dict[str, Any]) -> None:
    request.pop("data", None)
    request.pop("cookies", None)
    request.pop("env", None)  # the server's address and port: nothing an operator lacks
    if isinstance(request.get("query_string"), str):
        request["query_string"] = _query_without_values(request["query_string"])
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: value if str(name).lower() in SAFE_HEADERS else REDACTED for name, value in headers.items()
        }


def _tag_ids(event: dict[str, Any]) -> None:
    tags = event.setdefault("tags", {})
    for tag, variable in (("request_id", request_id_var), ("turn_id", turn_id_var), ("account", account_var)):
        value = variable.get()
        if value != "-":
            tags[tag] = value


def scrub_event(event: Event, hint: Hint) -> Event:
    """`before_send` and `before_send_transaction`: the event as the module says it leaves."""
    data: dict[str, Any] = dict(event)
    data.pop("user", None)
    if isinstance(data.get("request"), dict):
        _scrub_request(data["request"])
    for exception in (data.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = WITHHELD
    logentry = data.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
        logentry.pop("formatted", None)
    _tag_ids(data)
    scrubbed: Event = _ReportRedactor(active_redactor().forms).value(data)
    return scrubbed


def scrub_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """`before_breadcrumb`: a log line keeps its template, not its arguments; every string is scrubbed."""
    record = (hint or {}).get("log_record")
    if isinstance(record, logging.LogRecord):
        crumb["message"] = str(record.msg)
    data = crumb.get("data")
    if isinstance(data, dict) and isinstance(data.get("http.query"), str):
        data["http.query"] = _query_without_values(data["http.query"])
    scrubbed: Breadcrumb = _ReportRedactor(active_redactor().forms).value(crumb)
    return scrubbed


def error_reporting_start(*, transport: Transport | None = None) -> bool:
    """Start reporting errors to Sentry in this process, once, if a DSN is configured; whether it
    reports. Called where Django starts serving (asgi.py, wsgi.py) and when a Celery worker starts
    (its `celeryd_init`, before the pool's processes fork: each inherits the client).
    `transport` replaces the network (tests)."""
    conf = settings.SMARTER
    if conf.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    if sentry_sdk.get_client().is_active():
        return True
    sentry_sdk.init(
        dsn=conf.sentry_dsn.get_secret_value(),
        environment=conf.sentry_environment,
        release=f"smarter@{__version__}",
        traces_sample_rate=conf.sentry_traces_sample_rate,
        send_default_pii=False,
        max_request_body_size="never",  # bodies hold prompts
        include_local_variables=False,  # frames' locals hold prompts and keys
        # Only the integrations named here: one enabled by merely being installed (Redis,
        # httpx, ...) would record what it sees (commands, URLs) before anyone reviewed it.
        auto_enabling_integrations=False,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        transport=transport,
    )
    return True
