"""The one scrubber: every form a credential travels in becomes `***`, in text, in JSON values
and in the log records made while it is active."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from urllib.parse import quote, quote_plus

import pytest

from smarter.lib.redaction import CredentialRedactor, Redactor, scrubbing_logs

SECRET = 'S3cr3t/t0k+en"&<v>= é'


def _pair(username: str, secret: str) -> str:
    return base64.b64encode(f"{username}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    ("form", "written"),
    [
        ("raw", SECRET),
        ("bearer header", f"Authorization: Bearer {SECRET}"),
        ("custom header", f"X-Api-Key: {SECRET}"),
        ("basic", f"Authorization: Basic {_pair('ada', SECRET)}"),
        ("basic unpadded", _pair("ada", SECRET).rstrip("=")),
        ("basic decoded", f"ada:{SECRET}"),
        ("base64 alone", base64.b64encode(SECRET.encode()).decode()),
        ("url-encoded", quote(SECRET, safe="")),
        ("url-encoded lowercase hex", re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SECRET, safe=""))),
        ("url-encoded path", quote(SECRET)),
        ("form-encoded", quote_plus(SECRET)),
        ("json", json.dumps(SECRET)[1:-1]),
        ("json ascii", json.dumps(SECRET, ensure_ascii=True)[1:-1]),
        ("json solidus", json.dumps(SECRET)[1:-1].replace("/", "\\/")),
        ("html", html.escape(SECRET)),
    ],
)
def test_every_form_of_a_secret_becomes_stars(form: str, written: str) -> None:
    redactor = Redactor.of(SECRET, username="ada")
    text = f"before {written} after"
    scrubbed = redactor.text(text)
    assert scrubbed.startswith("before ") and scrubbed.endswith(" after")
    assert "***" in scrubbed
    for part in (SECRET, SECRET[:8], quote(SECRET, safe=""), _pair("ada", SECRET)[:8]):
        assert part not in scrubbed, form


def test_json_values_are_scrubbed_deeply_keys_and_numbers_included() -> None:
    redactor = Redactor.of("token-1234", "987654")
    value = {
        "headers": {"Authorization": "Bearer token-1234"},
        "token-1234": [1, 987654, {"pin": 987654.0}],
        "ok": True,
    }
    assert redactor.value(value) == {
        "headers": {"Authorization": "Bearer ***"},
        "***": [1, "***", {"pin": "***"}],
        "ok": True,
    }


def test_a_short_secret_is_scrubbed_only_where_it_stands_alone() -> None:
    redactor = Redactor.of("ab1")
    assert redactor.text("ab1") == "***"
    assert redactor.text("key=ab1&x=1 Bearer ab1.") == "key=***&x=1 Bearer ***."
    assert redactor.text("cab1e tab10") == "cab1e tab10"


def test_an_empty_redactor_changes_nothing() -> None:
    redactor = Redactor.of(None, "")
    assert not redactor
    assert redactor.text("anything") == "anything"
    assert redactor.value({"a": [1]}) == {"a": [1]}


def test_log_records_made_while_scrubbing_hold_no_secret_whatever_the_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-token"
    with scrubbing_logs(Redactor.of(secret)):
        logging.getLogger("httpx").info("HTTP Request: GET %s", f"https://api.example.com/x?key={secret}")
        logging.getLogger("smarter.anything").warning(f"formatted ahead: Bearer {secret}")
        try:
            raise ValueError(f"upstream said {secret}")
        except ValueError:
            logging.getLogger("smarter.plugin").exception("the call failed")
    logging.getLogger("smarter.anything").info("after: %s", secret)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "HTTP Request: GET https://api.example.com/x?key=***",
        "formatted ahead: Bearer ***",
        "the call failed",
        f"after: {secret}",  # outside the block, nothing is scrubbed
    ]
    failed = caplog.records[2]
    assert failed.exc_info is None and failed.exc_text is not None
    assert "ValueError: upstream said ***" in failed.exc_text
    assert secret not in caplog.text.replace(f"after: {secret}", "")


def test_the_json_log_format_keeps_the_scrubbed_traceback() -> None:
    from smarter.lib.observability import JsonFormatter

    secret = "hunter2-token"
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("smarter.tests.redaction")
    handler = Keep()
    logger.addHandler(handler)
    try:
        with scrubbing_logs(Redactor.of(secret)):
            try:
                raise RuntimeError(secret)
            except RuntimeError:
                logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["message"] == "boom"
    assert line["exception"].endswith("RuntimeError: ***")


# --- credentials recognised by their shape ------------------------------------------------------
_API_KEY = "smarter_0a1b2c3d_" + "Zx-9_" * 8 + "Q9k"
_OPENAI_KEY = "sk-proj-AbCdEf0123456789_ghIJ-kl"
_FERNET = "gAAAAABmZ3xYz0123456789abcdefghijkLMNOP_qrstuv-wxyz012345=="
_URL = "postgresql://crm:Pa55-w0rd.x@db.internal:5432/crm"


@pytest.mark.parametrize(
    ("written", "scrubbed"),
    [
        (_API_KEY, "***"),
        (f"Token {_API_KEY}", "Token ***"),
        (_OPENAI_KEY, "***"),
        (quote(_OPENAI_KEY, safe=""), "***"),
        (json.dumps(_OPENAI_KEY), '"***"'),
        (_FERNET, "***"),
        (quote(_FERNET, safe=""), "***"),
        ("Authorization: Bearer ey.J-hb_GciOi", "Authorization: Bearer ***"),
        ("authorization=bearer%20ey.J-hb_GciOi&x=1", "authorization=bearer%20***&x=1"),
        ("Authorization: Basic " + _pair("ada", "Pa55-w0rd.x"), "Authorization: Basic ***"),
        (_URL, "postgresql://crm:***@db.internal:5432/crm"),
        (quote(_URL, safe=""), "postgresql%3A%2F%2Fcrm%3A***%40db.internal%3A5432%2Fcrm"),
        (json.dumps(_URL).replace("/", "\\/"), '"postgresql:\\/\\/crm:***@db.internal:5432\\/crm"'),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
    ],
)
def test_a_credential_is_recognised_by_its_shape_in_every_form(written: str, scrubbed: str) -> None:
    assert CredentialRedactor().text(f"before {written} after") == f"before {scrubbed} after"


@pytest.mark.parametrize(
    "harmless",
    [
        "https://example.com:8443/path@v2",
        "sk-platform",
        "Basic authentication failed",
        "a bearer of bad news",
        "smarter_account_id",
    ],
)
def test_what_only_looks_a_little_like_a_credential_stays(harmless: str) -> None:
    assert CredentialRedactor().text(harmless) == harmless
