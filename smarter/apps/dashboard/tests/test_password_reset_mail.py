"""Password-reset mail goes to the configured SMTP server (a real one on loopback: aiosmtpd, with
STARTTLS, implicit TLS and authentication), from the configured address, and its link names the
configured platform host and scheme, never the Host header of whoever asked for it."""

from __future__ import annotations

import datetime
import email
import ipaddress
import os
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.tests.servers import free_port
from smarter.apps.dashboard.tests.helpers import with_password

REPO = Path(__file__).resolve().parents[4]
CSRF_SECRET = "f" * 32
SMTP_USER, SMTP_PASSWORD = "smtp-user", "smtp-pass-42"
LOGINS: list[str] = []  # successful AUTH exchanges (the server refuses mail without one)


class Inbox:
    """What the SMTP server received: (envelope sender, recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 OK"


def _authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    if ok:
        LOGINS.append(SMTP_USER)
    return AuthResult(success=ok)


class MailServer:
    """aiosmtpd on a free loopback port; `security` as SMARTER_EMAIL_SECURITY names it."""

    def __init__(self, security: str, certificate: tuple[Path, Path] | None = None, auth: bool = True) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        options: dict[str, Any] = {}
        if auth:
            # Over STARTTLS, AUTH is offered only once the connection is upgraded; aiosmtpd does not
            # see an implicit-TLS connection as TLS, so there it is offered from the start.
            options.update(authenticator=_authenticator, auth_required=True, auth_require_tls=security == "starttls")
        context = None
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, certificate))
        if security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif security == "tls":
            options.update(ssl_context=context)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it through SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


SEND = """
from django.core.mail import send_mail
send_mail("Probe", "Body of the probe.", None, ["someone@example.test"])
"""


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls", "none"])
def test_the_configured_smtp_server_receives_the_platforms_mail(
    certificate: tuple[Path, Path], tmp_path: Path, security: str
) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text(SMTP_PASSWORD + "\n")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    LOGINS.clear()
    with MailServer(security, certificate if security != "none" else None) as server:
        environment.update(
            SMARTER_STATE_DIR=str(tmp_path),
            SMARTER_EMAIL_HOST="127.0.0.1",
            SMARTER_EMAIL_PORT=str(server.port),
            SMARTER_EMAIL_USER=SMTP_USER,
            SMARTER_EMAIL_PASSWORD_FILE=str(password_file),  # as the chart mounts it
            SMARTER_EMAIL_SECURITY=security,
            SMARTER_EMAIL_FROM="Acme Support <support@acme.test>",
            SSL_CERT_FILE=str(certificate[0]),
            DJANGO_SETTINGS_MODULE="smarter.settings",
        )
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + SEND],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]

    ((sender, recipients, message),) = server.inbox.messages
    assert (sender, recipients) == ("support@acme.test", ["someone@example.test"])
    assert (message["From"], message["Subject"]) == ("Acme Support <support@acme.test>", "Probe")
    assert LOGINS == [SMTP_USER]  # authenticated with the password read from SMARTER_EMAIL_PASSWORD_FILE


# --- the reset link -----------------------------------------------------------------------------
@pytest.fixture
def mail_server(settings: Any) -> Iterator[MailServer]:
    """Django's SMTP backend pointed at a plain SMTP server on loopback."""
    with MailServer("none", auth=False) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.DEFAULT_FROM_EMAIL = "Smarter <noreply@platform.example.com>"
        yield server


HOSTS = {
    "localhost": {"Host": "localhost"},
    "loopback with a port": {"Host": "127.0.0.1:9999"},
    "IPv6 loopback": {"Host": "[::1]"},
    "testserver": {"Host": "testserver"},
    "forwarded host": {"Host": "localhost", "X-Forwarded-Host": "evil.test", "Forwarded": "host=evil.test"},
    "the platform host": {"Host": "platform.example.com"},
}


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("hosts", sorted(HOSTS))
def test_the_reset_link_names_the_configured_platform_host_whatever_the_request_says(
    owner: Persona,
    asgi_server: Any,
    mail_server: MailServer,
    smarter_settings: Any,
    hosts: str,
    https: bool,
) -> None:
    smarter_settings.platform_host = "platform.example.com"
    smarter_settings.https = https
    with_password(owner)
    cookies = {"csrftoken": CSRF_SECRET}
    with httpx.Client(base_url=asgi_server.url, cookies=cookies, headers=HOSTS[hosts], timeout=30) as client:
        sent = client.post("/password-reset/", data={"email": "owner@example.test", "csrfmiddlewaretoken": CSRF_SECRET})
    assert (sent.status_code, sent.headers["location"]) == (302, "/password-reset/sent/")

    ((sender, recipients, message),) = mail_server.inbox.messages
    assert (sender, recipients) == ("noreply@platform.example.com", ["owner@example.test"])
    assert message["Subject"] == "Reset your Smarter password"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    links = re.findall(r"\w+://[^\s]+", body)
    scheme = "https" if https else "http"
    assert len(links) == 1 and links[0].startswith(f"{scheme}://platform.example.com/password-reset/"), body
    for elsewhere in ("localhost", "127.0.0.1", "::1", "testserver", "evil.test"):
        assert elsewhere not in body
    # The link works on the platform's own host.
    path = links[0].removeprefix(f"{scheme}://platform.example.com")
    opened = Client(HTTP_HOST="platform.example.com").get(path, follow=True, secure=https)
    assert b"Choose a new password" in opened.content


def test_no_mail_leaves_for_an_unknown_address(owner: Persona, asgi_server: Any, mail_server: MailServer) -> None:
    with httpx.Client(base_url=asgi_server.url, cookies={"csrftoken": CSRF_SECRET}, timeout=30) as client:
        sent = client.post(
            "/password-reset/", data={"email": "nobody@example.test", "csrfmiddlewaretoken": CSRF_SECRET}
        )
    assert sent.status_code == 302  # the same answer: whether an address has an account is not told
    assert mail_server.inbox.messages == []


def test_the_deploy_check_warns_when_no_mail_server_is_configured(smarter_settings: Any) -> None:
    from smarter.apps.api.checks import mail_in_production

    smarter_settings.email_host = None
    assert [warning.id for warning in mail_in_production(None)] == ["smarter.W004"]
    smarter_settings.email_host = "email-smtp.us-east-1.amazonaws.com"
    assert mail_in_production(None) == []
