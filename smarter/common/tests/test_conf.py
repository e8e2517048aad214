"""The configuration object: embedded defaults, real engines, `_FILE` variants, clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from smarter.common.conf import ConfigurationError, load_settings, setting_names

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SMARTER_* variable set, and a private state directory."""
    import os

    for name in list(os.environ):
        if name.startswith("SMARTER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMARTER_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_with_nothing_set_it_gives_the_embedded_defaults(clean_env: Path) -> None:
    conf = load_settings()
    assert conf.effective_database_url == f"sqlite:///{clean_env / 'smarter.sqlite3'}"
    assert conf.database_engine == "sqlite"
    assert conf.redis_url is None
    assert conf.tasks_run_eagerly is True
    assert conf.effective_llm_provider == "offline"
    assert conf.root_domain == "localhost"
    assert conf.allow_private_hosts is False


def test_generated_keys_are_kept_in_the_state_directory_and_reused(clean_env: Path) -> None:
    first = load_settings()
    second = load_settings()
    assert first.effective_secret_key == second.effective_secret_key
    assert len(first.effective_secret_key) >= 50
    assert first.fernet_key_list == second.fernet_key_list
    Fernet(first.fernet_key_list[0].encode())  # a usable key
    assert (clean_env / "fernet_key").stat().st_mode & 0o777 == 0o600


def test_mysql_and_redis_urls_select_the_real_engines(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_DATABASE_URL", "mysql://app:pw@db.internal:3306/smarter")
    monkeypatch.setenv("SMARTER_REDIS_URL", "redis://cache.internal:6379/0")
    conf = load_settings()
    assert conf.database_engine == "mysql"
    assert conf.redis_url == "redis://cache.internal:6379/0"
    assert conf.tasks_run_eagerly is False


def test_postgres_urls_are_accepted(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_DATABASE_URL", "postgres://app@db:5432/smarter")
    assert load_settings().database_engine == "postgresql"


def test_the_plugin_data_folder_defaults_to_the_state_directory_and_can_be_moved(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings().effective_plugin_data_dir == clean_env / "plugin-data"
    monkeypatch.setenv("SMARTER_PLUGIN_DATA_DIR", "")
    assert load_settings().effective_plugin_data_dir == clean_env / "plugin-data"
    monkeypatch.setenv("SMARTER_PLUGIN_DATA_DIR", str(tmp_path / "volume"))
    assert load_settings().effective_plugin_data_dir == tmp_path / "volume"
    monkeypatch.setenv("SMARTER_PLUGIN_DATA_DIR", "plugin-data")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == (
        "SMARTER_PLUGIN_DATA_DIR: must be an absolute path, e.g. /var/lib/smarter/plugin-data (got 'plugin-data')"
    )


def test_an_openai_key_makes_openai_the_platform_provider(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_OPENAI_API_KEY", "sk-test")
    assert load_settings().effective_llm_provider == "openai"


def test_file_variants_read_the_value_from_a_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = Fernet.generate_key().decode()
    (tmp_path / "fernet").write_text(f"{key}\n")
    (tmp_path / "db").write_text("mysql://root@127.0.0.1:3306/x\n")
    monkeypatch.setenv("SMARTER_FERNET_KEYS_FILE", str(tmp_path / "fernet"))
    monkeypatch.setenv("SMARTER_DATABASE_URL_FILE", str(tmp_path / "db"))
    conf = load_settings()
    assert conf.fernet_key_list == [key]
    assert conf.database_url == "mysql://root@127.0.0.1:3306/x"


def test_a_plain_variable_wins_over_its_file_variant(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "domain").write_text("from-file.example")
    monkeypatch.setenv("SMARTER_ROOT_DOMAIN_FILE", str(tmp_path / "domain"))
    monkeypatch.setenv("SMARTER_ROOT_DOMAIN", "from-env.example")
    assert load_settings().root_domain == "from-env.example"


def test_an_unreadable_file_variant_names_the_variable(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_SECRET_KEY_FILE", "/nonexistent/secret")
    with pytest.raises(ConfigurationError, match=r"^SMARTER_SECRET_KEY_FILE: cannot read '/nonexistent/secret'"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "SMARTER_DATABASE_URL",
            "oracle://x/y",
            "SMARTER_DATABASE_URL: must be a sqlite://, mysql:// or postgres:// URL (got 'oracle://x/y')",
        ),
        (
            "SMARTER_REDIS_URL",
            "http://cache",
            "SMARTER_REDIS_URL: must be a redis:// or rediss:// URL (got 'http://cache')",
        ),
        (
            "SMARTER_DEBUG",
            "maybe",
            "SMARTER_DEBUG: Input should be a valid boolean, unable to interpret input (got 'maybe')",
        ),
        (
            "SMARTER_LLM_PROVIDER",
            "gemini",
            "SMARTER_LLM_PROVIDER: Input should be 'offline' or 'openai' (got 'gemini')",
        ),
        (
            "SMARTER_PLATFORM_HOST",
            "https://x/",
            "SMARTER_PLATFORM_HOST: must be host or host:port, without scheme or path (got 'https://x/')",
        ),
        (
            "SMARTER_ROOT_DOMAIN",
            "exa mple.com",
            "SMARTER_ROOT_DOMAIN: must be a DNS name such as localhost or example.com (got 'exa mple.com')",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_and_what_it_accepts(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == expected


def test_a_bad_secret_value_is_not_echoed(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_FERNET_KEYS", "not-a-key-but-a-password")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "not-a-key-but-a-password" not in str(raised.value)
    assert str(raised.value).startswith("SMARTER_FERNET_KEYS: must be comma-separated Fernet keys")


def test_start_up_stops_with_the_one_line_and_exit_status_2(clean_env: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTER_")}
    env["SMARTER_STATE_DIR"] = str(clean_env)
    env["SMARTER_REDIS_URL"] = "memcached://x"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Smarter cannot start: SMARTER_REDIS_URL: must be a redis:// or rediss:// URL (got 'memcached://x')"
    )


def test_env_example_lists_every_variable_with_a_comment() -> None:
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    listed = [
        line.split("=")[0].lstrip("# ") for line in lines if "=" in line and line.lstrip("# ").startswith("SMARTER_")
    ]
    assert sorted(listed) == sorted(setting_names())
    for index, line in enumerate(lines):
        if "=" in line and line.lstrip("# ").startswith("SMARTER_"):
            assert lines[index - 1].startswith("# "), f"{line} has no comment above it"


def test_empty_variables_mean_unset(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMARTER_LLM_PROVIDER", "SMARTER_S3_BUCKET", "SMARTER_REDIS_URL", "SMARTER_OPENAI_BASE_URL"):
        monkeypatch.setenv(name, "")
    conf = load_settings()
    assert (conf.llm_provider, conf.s3_bucket, conf.redis_url, conf.openai_base_url) == (None, None, None, None)
    assert conf.effective_llm_provider == "offline"


def test_tls_options_in_a_mysql_url_are_kept(clean_env: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SMARTER_")}
    env["SMARTER_STATE_DIR"] = str(clean_env)
    env["SMARTER_DATABASE_URL"] = "mysql://app@db.internal:3306/smarter?ssl_mode=REQUIRED"
    code = "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; print(o['ssl_mode'], o['charset'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='smarter.settings'; {code}"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["REQUIRED", "utf8mb4"], result.stderr
