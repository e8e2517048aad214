"""Settings of the platform's edge: trusted proxies, the limits of each door, custom-domain
claims and outgoing mail. Each fails fast with the variable's name on a bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smarter.common.conf import ConfigurationError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SMARTER_* variable set, and a private state directory."""
    for name in list(os.environ):
        if name.startswith("SMARTER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMARTER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def test_no_proxy_is_trusted_unless_configured(clean_env: Path) -> None:
    assert load_settings().trusted_proxy_networks == ()


def test_trusted_proxies_are_addresses_and_ranges_in_one_canonical_form(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTER_TRUSTED_PROXIES", " 10.1.2.3/8, 192.168.1.5 ,,2001:DB8::/32 ")
    assert load_settings().trusted_proxy_networks == ("10.0.0.0/8", "192.168.1.5/32", "2001:db8::/32")


def test_trusted_proxies_may_come_from_a_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = clean_env / "proxies"
    path.write_text("172.16.0.0/12\n")
    monkeypatch.setenv("SMARTER_TRUSTED_PROXIES_FILE", str(path))
    assert load_settings().trusted_proxy_networks == ("172.16.0.0/12",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "'*' would believe anyone's X-Forwarded-For"),
        ("10.0.0.0/8,*", "'*' would believe anyone's X-Forwarded-For"),
        ("proxy.internal", "'proxy.internal' is not an IP address or CIDR range"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or CIDR range"),
        ("10.0.0.0/8;192.168.0.0/16", "is not an IP address or CIDR range"),
    ],
)
def test_a_trusted_proxy_that_is_not_an_address_stops_the_start(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("SMARTER_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value).startswith("SMARTER_TRUSTED_PROXIES: ")
    assert message in str(refused.value)


# --- outgoing mail ----------------------------------------------------------------------------------
MAIL_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in (
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT", "DEFAULT_FROM_EMAIL")}))
"""
BASE_DIR = Path(__file__).resolve().parents[3]


def _django_mail_settings(clean_env: Path, **variables: str) -> dict[str, object]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update(variables, SMARTER_STATE_DIR=str(clean_env / "state"), DJANGO_SETTINGS_MODULE="smarter.settings")
    result = subprocess.run(
        [sys.executable, "-c", MAIL_PROBE], cwd=BASE_DIR, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_without_a_mail_server_mail_is_printed_in_debug_and_never_sent_nor_printed_otherwise(clean_env: Path) -> None:
    assert _django_mail_settings(clean_env, SMARTER_DEBUG="true")["EMAIL_BACKEND"] == (
        "django.core.mail.backends.console.EmailBackend"
    )
    production = _django_mail_settings(clean_env, SMARTER_PLATFORM_HOST="platform.example.com")
    assert production["EMAIL_BACKEND"] == "django.core.mail.backends.dummy.EmailBackend"
    assert production["DEFAULT_FROM_EMAIL"] == "Smarter <noreply@platform.example.com>"


@pytest.mark.parametrize(
    ("security", "tls", "ssl"), [("starttls", True, False), ("tls", False, True), ("none", False, False)]
)
def test_a_mail_server_is_used_as_configured(clean_env: Path, security: str, tls: bool, ssl: bool) -> None:
    password = clean_env / "password"
    password.write_text("ses-smtp-password\n")
    found = _django_mail_settings(
        clean_env,
        SMARTER_EMAIL_HOST="Email-SMTP.us-east-1.amazonaws.com",
        SMARTER_EMAIL_PORT="2587",
        SMARTER_EMAIL_USER="AKIAEXAMPLE",
        SMARTER_EMAIL_PASSWORD_FILE=str(password),
        SMARTER_EMAIL_SECURITY=security,
        SMARTER_EMAIL_FROM="Acme <noreply@acme.test>",
    )
    assert found == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "email-smtp.us-east-1.amazonaws.com",
        "EMAIL_PORT": 2587,
        "EMAIL_HOST_USER": "AKIAEXAMPLE",
        "EMAIL_HOST_PASSWORD": "ses-smtp-password",
        "EMAIL_USE_TLS": tls,
        "EMAIL_USE_SSL": ssl,
        "EMAIL_TIMEOUT": 10,
        "DEFAULT_FROM_EMAIL": "Acme <noreply@acme.test>",
    }


def test_the_mail_password_is_never_shown_in_an_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_EMAIL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("SMARTER_EMAIL_PORT", "0")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert "SMARTER_EMAIL_PORT" in str(refused.value) and "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SMARTER_EMAIL_HOST", "smtp://mail.example.com", "without scheme or port"),
        ("SMARTER_EMAIL_HOST", "mail.example.com:25", "without scheme or port"),
        ("SMARTER_EMAIL_HOST", "mail example", "without scheme or port"),
        ("SMARTER_EMAIL_SECURITY", "ssl", "'starttls', 'tls' or 'none'"),
        ("SMARTER_EMAIL_PORT", "70000", "less than or equal to 65535"),
        ("SMARTER_EMAIL_FROM", "not an address", "must be an e-mail address"),
        ("SMARTER_EMAIL_FROM", "a@example.com\rBcc: victim@example.com", "must be an e-mail address"),
    ],
)
def test_a_bad_mail_setting_stops_the_start(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value).startswith(f"{variable}: ")
    assert message in str(refused.value)
