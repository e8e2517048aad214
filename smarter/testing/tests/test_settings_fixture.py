"""The `smarter_settings` fixture: a test changes fields of the typed configuration, validated."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from smarter.common.conf import ConfigurationError
from smarter.testing.fixtures import SmarterSettingsOverride


def test_a_field_set_for_a_test_is_what_code_reads_with_its_derived_values(
    smarter_settings: SmarterSettingsOverride,
) -> None:
    smarter_settings.llm_provider = "openai"
    smarter_settings.openai_api_key = "sk-test"
    smarter_settings.trusted_proxies = "10.0.0.0/8, 192.168.1.5"

    assert settings.SMARTER.effective_llm_provider == "openai"
    assert settings.SMARTER.platform_openai_key == "sk-test"
    assert settings.SMARTER.trusted_proxy_networks == ("10.0.0.0/8", "192.168.1.5/32")
    assert smarter_settings.llm_provider == "openai"


def test_a_value_the_environment_could_not_hold_is_refused_and_nothing_changes(
    smarter_settings: SmarterSettingsOverride,
) -> None:
    before = settings.SMARTER
    with pytest.raises(ConfigurationError, match=r"^SMARTER_REDIS_URL: must be a redis:// or rediss:// URL"):
        smarter_settings.redis_url = "memcached://cache"
    with pytest.raises(ConfigurationError, match=r"^SMARTER_DATABASE_THREADS: "):
        smarter_settings.database_threads = 0
    assert settings.SMARTER is before


def test_a_name_that_is_not_a_field_is_refused(smarter_settings: SmarterSettingsOverride) -> None:
    with pytest.raises(AttributeError, match="'root_domains' is not a field of the configuration"):
        smarter_settings.root_domains = "example.com"


@pytest.fixture
def original_configuration() -> Any:
    """Set up before (so torn down after) pytest-django's `settings`: it sees the restored object."""
    original = settings.SMARTER
    yield original
    assert settings.SMARTER is original


def test_the_configuration_is_restored_after_the_test(
    original_configuration: Any, smarter_settings: SmarterSettingsOverride
) -> None:
    smarter_settings.root_domain = "example.com"
    assert settings.SMARTER.root_domain == "example.com"
    assert original_configuration.root_domain != "example.com"
