"""Settings of the platform's edge: trusted proxies, the limits of each door, custom-domain
claims and outgoing mail. Each fails fast with the variable's name on a bad value."""

from __future__ import annotations

import os
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
    assert load_settings().trusted_proxy_networks == []


def test_trusted_proxies_are_addresses_and_ranges_in_one_canonical_form(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTER_TRUSTED_PROXIES", " 10.1.2.3/8, 192.168.1.5 ,,2001:DB8::/32 ")
    assert load_settings().trusted_proxy_networks == ["10.0.0.0/8", "192.168.1.5/32", "2001:db8::/32"]


def test_trusted_proxies_may_come_from_a_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = clean_env / "proxies"
    path.write_text("172.16.0.0/12\n")
    monkeypatch.setenv("SMARTER_TRUSTED_PROXIES_FILE", str(path))
    assert load_settings().trusted_proxy_networks == ["172.16.0.0/12"]


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
