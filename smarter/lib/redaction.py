"""One scrubber for every credential the platform sends on a tenant's behalf.

A REST target, a database driver or an LLM endpoint may echo what it was sent: in an error
body, a 200 body, a redirect, a driver message. Whatever comes back passes through a
`Redactor` built from the values sent, before the model, the tester, the stored tool calls or a
log line sees it. Each value is replaced by `***` in every form it travels in:

- as it is, which also covers `Bearer <secret>` and a header line `Name: <secret>`;
- HTTP basic authentication's `base64(username:secret)`, padded or not (and the secret alone
  in base64);
- URL-encoded (`%2F` and `%2f`, `+` for spaces), JSON-escaped (`\\"`, `\\u00e9`, `\\/`) and
  HTML-escaped, which is how a body, a query string or a page quotes it.

A value of fewer than `MIN_SECRET_LENGTH` characters would blank every occurrence of common
letters or digits, so such a form is replaced only where it stands alone (not inside a longer
word or number). Such a value protects nothing anyway; the docs ask for longer secrets.

`scrubbing_logs(redactor)` also scrubs every log record created while it is active, whatever the
logger (the HTTP client's included): the record's message and its traceback are rewritten when
the record is made, before any handler, formatter or test capture sees it.

Where the values are not known (an error report of any request), `CredentialRedactor` also
replaces what has the shape of a credential: a Smarter API key, a bearer token, an `sk-` key, a
Fernet token, the password of a URL (`scheme://user:password@`), also URL-encoded or JSON-escaped.
"""

from __future__ import annotations

import base64
import contextvars
import html
import json
import logging
import re
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_SECRET_LENGTH = 4

_PERCENT = re.compile(r"%[0-9A-F]{2}")
_WORD = "A-Za-z0-9"


def _encoded_forms(text: str) -> set[str]:
    """`text` as a URL, a JSON string, an HTML page or a base64 blob would carry it."""
    forms = {text}
    for encoded in (quote(text, safe=""), quote(text), quote_plus(text)):
        forms.add(encoded)
        forms.add(_PERCENT.sub(lambda match: match.group(0).lower(), encoded))
    for escaped in (json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
        forms.add(escaped)
        forms.add(escaped.replace("/", "\\/"))  # some JSON encoders escape the solidus
    forms.add(html.escape(text, quote=True))
    forms.add(html.escape(text, quote=False))
    return forms


def _base64_forms(raw: str) -> set[str]:
    encoded = base64.b64encode(raw.encode()).decode("ascii")
    urlsafe = base64.urlsafe_b64encode(raw.encode()).decode("ascii")
    return {encoded, encoded.rstrip("="), urlsafe, urlsafe.rstrip("="), encoded.replace("/", "\\/")}


def secret_forms(secret: str, *, username: str | None = None) -> set[str]:
    """Every form of `secret` this module replaces; with `username`, its basic-auth forms too."""
    if not secret:
        return set()
    forms = _encoded_forms(secret) | _base64_forms(secret)
    if username is not None:
        forms |= _base64_forms(f"{username}:{secret}")
    return {form for form in forms if form}


class Redactor:
    """Replaces the forms of a set of secrets by `***` in text and in JSON-like values."""

    def __init__(self, forms: Iterable[str] = ()) -> None:
        self.forms = frozenset(form for form in forms if form)
        long = sorted((f for f in self.forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        short = sorted((f for f in self.forms if len(f) < MIN_SECRET_LENGTH), key=len, reverse=True)
        alternatives = [re.escape(form) for form in long]
        alternatives += [f"(?<![{_WORD}]){re.escape(form)}(?![{_WORD}])" for form in short]
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    @classmethod
    def of(cls, *secrets: str | None, username: str | None = None) -> Redactor:
        """A redactor of `secrets`; `username` adds the basic-auth forms `base64(username:secret)`."""
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret, username=username)
        return cls(forms)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __add__(self, other: Redactor) -> Redactor:
        return Redactor(self.forms | other.forms)

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        """A JSON-like value (dicts, lists, strings, numbers) with every secret replaced; keys too.

        A number that spells a secret becomes the string `***`: its type matters less than that
        it leaves nothing behind.
        """
        if not self:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            spelled = str(value)
            return REDACTED if self.text(spelled) != spelled else value
        return value


NOTHING = Redactor()


# --- credentials recognised by their shape -------------------------------------------------------
_COLON, _SLASH, _AT, _EQUALS = "(?::|%3[Aa])", r"(?:/|\\/|%2[Ff])", "(?:@|%40)", "(?:=|%3[Dd])"
# (pattern, replacement): the replacement keeps what says where the credential was.
_SHAPES = [
    # `smarter_<8 hex>_<secret>` (smarter.lib.crypto.new_api_key).
    (re.compile(r"smarter_[0-9a-f]{8}_[A-Za-z0-9_-]+"), REDACTED),
    # OpenAI's (and alike) secret keys; a short `sk-` word (an id, a name) is no key.
    (re.compile(rf"(?<![{_WORD}])sk-[A-Za-z0-9_-]{{16,}}"), REDACTED),
    # Fernet tokens: the version byte 0x80 and a timestamp make every one start with gAAAAA.
    (re.compile(rf"gAAAAA[A-Za-z0-9_-]{{20,}}{_EQUALS}{{0,2}}"), REDACTED),
    # `Bearer <token>` whatever the token (of 8 characters or more: "a bearer of news" stays), and
    # `Basic <base64(user:password)>` (a digit or a sign tells base64 from a word).
    (re.compile(r"(?i:\b(bearer)(\s+|%20|\+))[^\s\"'\\,;&]{8,}"), rf"\1\2{REDACTED}"),
    (
        re.compile(r"\b(Basic)(\s+|%20|\+)(?=[A-Za-z]*[0-9+/=%])[A-Za-z0-9+/]{8,}(?:=|%3[Dd]){0,2}"),
        rf"\1\2{REDACTED}",
    ),
    # The password of a URL, `scheme://user:password@host`, also URL-encoded or JSON-escaped.
    (
        re.compile(rf"([A-Za-z][A-Za-z0-9+.-]*{_COLON}{_SLASH}{_SLASH}[^\s:/@%\\]*{_COLON})[^\s/@\\]+?(?={_AT})"),
        rf"\1{REDACTED}",
    ),
]


def redact_credential_shapes(text: str) -> str:
    """`text` with whatever has the shape of a credential replaced by `***` (see the module)."""
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


class CredentialRedactor(Redactor):
    """A `Redactor` of known secrets that also replaces anything shaped like a credential: for
    text from anywhere (an error report), where the secrets it may hold are not known."""

    def __bool__(self) -> bool:
        return True

    def __add__(self, other: Redactor) -> Redactor:
        return CredentialRedactor(self.forms | other.forms)

    def text(self, text: str) -> str:
        return redact_credential_shapes(super().text(text)) if text else text


# --- log records -------------------------------------------------------------------------------
_active: contextvars.ContextVar[Redactor] = contextvars.ContextVar("smarter_log_redactor", default=NOTHING)
_install_lock = threading.Lock()
_installed = False


def _scrub_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed format string: logging reports it itself, as it would have
        return
    scrubbed = redactor.text(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    if record.exc_info and record.exc_info[0] is not None:
        # Formatted now, scrubbed, and kept as text: no handler formats the raw exception later.
        record.exc_text = redactor.text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redactor.text(record.stack_info)


def install_log_scrubber() -> None:
    """Wrap the log record factory once per process, so records made under `scrubbing_logs` are
    scrubbed when they are created (before any handler, filter or formatter sees them)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redactor = _active.get()
            if redactor:
                _scrub_record(record, redactor)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def active_redactor() -> Redactor:
    """The secrets `scrubbing_logs` protects in this thread or task now (`NOTHING` outside it)."""
    return _active.get()


@contextmanager
def scrubbing_logs(redactor: Redactor) -> Iterator[None]:
    """While active (in this thread or task), every log record has `redactor`'s secrets scrubbed."""
    if not redactor:
        yield
        return
    install_log_scrubber()
    token = _active.set(_active.get() + redactor)
    try:
        yield
    finally:
        _active.reset(token)
