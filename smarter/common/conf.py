"""THE configuration of Smarter: one typed, validated object read from the environment.

Every variable is named ``SMARTER_<FIELD>`` and may instead be given as ``SMARTER_<FIELD>_FILE``
(the path of a file holding the value, as Kubernetes and Docker mount secrets). Nothing else in
the project reads ``os.environ``; ``smarter/settings.py`` maps this object onto Django's names.

With nothing set, the result is the embedded default of the design: a SQLite file and
generated keys under ``.smarter/``, Celery tasks run eagerly, a local-memory cache and the
offline LLM provider.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "SMARTER_"
BASE_DIR = Path(__file__).resolve().parent.parent.parent

DATABASE_SCHEMES = ("sqlite", "mysql", "postgres", "postgresql")


class ConfigurationError(Exception):
    """A variable has a value Smarter cannot run with; the message names it and what it accepts."""


class FileVariablesSource(PydanticBaseSettingsSource):
    """Reads ``SMARTER_<FIELD>_FILE``: the value is the content of that file, stripped.

    A plain ``SMARTER_<FIELD>`` wins over its ``_FILE`` form, so an operator can override a
    mounted secret for one run without unmounting it.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        env_name = f"{ENV_PREFIX}{field_name.upper()}_FILE"
        path = os.environ.get(env_name)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as error:
            raise ConfigurationError(f"{env_name}: cannot read {path!r} ({error.strerror})") from error

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


class SmarterSettings(BaseSettings):
    """Every setting of the platform. Field ``x`` is the environment variable ``SMARTER_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- core -------------------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        None, description="Django secret key. Unset: generated once and kept in the state directory."
    )
    debug: bool = Field(False, description="Development mode: detailed error pages, no HTTPS redirects.")
    state_dir: Path = Field(
        BASE_DIR / ".smarter",
        description="Local folder for the embedded defaults (SQLite file, generated keys, uploads).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line (production); text: readable lines."
    )
    https: bool = Field(
        False,
        description="Served over HTTPS behind a TLS-terminating proxy: secure cookies, HSTS, redirects.",
    )

    # --- backing services -------------------------------------------------------------------
    database_url: str = Field(
        "", description="sqlite:///path, mysql://user:pass@host:3306/db or postgres://... Unset: SQLite."
    )
    redis_url: str | None = Field(
        None, description="redis://host:6379/0: Celery broker, cache and rate limits. Unset: eager tasks."
    )
    database_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads per web process for the database work of chat turns (raise for a distant database).",
    )

    # --- hosts ------------------------------------------------------------------------------
    root_domain: str = Field(
        "localhost", description="Chatbots answer on <chatbot>.<account-number>.api.<root-domain>."
    )
    platform_host: str = Field("localhost:8000", description="host[:port] of the console and the REST API.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs or CIDR ranges of the reverse proxies in front of the web server "
        "(e.g. the ingress controller's pods): only from these is X-Forwarded-For believed. "
        "Empty: none; the client is the connecting address.",
    )

    # --- LLM providers ----------------------------------------------------------------------
    llm_provider: Literal["offline", "openai"] | None = Field(
        None, description="Platform provider: offline (no key, no network) or openai. Unset: by key."
    )
    openai_api_key: SecretStr | None = Field(None, description="The platform's OpenAI (compatible) API key.")
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server. Unset: api.openai.com."
    )
    default_model: str = Field("gpt-4o-mini", description="Model used when a chatbot names none.")
    max_tool_calls_per_round: int = Field(
        8,
        ge=1,
        le=128,
        description="Tool calls of one model reply that run; the others are answered with an error.",
    )

    # --- secrets at rest --------------------------------------------------------------------
    fernet_keys: SecretStr | None = Field(
        None,
        description="Comma-separated Fernet keys, newest first. Unset: one generated in the state dir.",
    )

    # --- outbound safety and automation -----------------------------------------------------
    allow_private_hosts: bool = Field(
        False,
        description="Let plugins and providers reach loopback/private addresses (development); never "
        "link-local, 100.64.0.0/10 or cloud metadata addresses.",
    )
    kubernetes_enabled: bool = Field(False, description="Create an Ingress per deployed chatbot.")
    aws_route53_enabled: bool = Field(False, description="Create a Route53 record per deployed chatbot.")
    s3_bucket: str | None = Field(None, description="S3 bucket for files. Unset: the state directory.")
    plugin_data_dir: Path | None = Field(
        None,
        description="SQLite plugin databases, in a folder per account number. Unset: <state dir>/plugin-data.",
    )

    # --- knowledge bases -------------------------------------------------------------------
    knowledge_dir: Path | None = Field(
        None,
        description="Uploaded documents (without SMARTER_S3_BUCKET) and the embedded knowledge index. "
        "Unset: <state dir>/knowledge.",
    )
    knowledge_index_url: str | None = Field(
        None,
        description="postgresql://... of a PostgreSQL with pgvector >= 0.8 for chunks, vectors and full text. "
        "Unset: a SQLite file with sqlite-vec and FTS5 in the knowledge folder.",
    )
    knowledge_max_upload_mib: int = Field(50, ge=1, le=1024, description="The largest document accepted, in MiB.")
    embedding_batch_size: int = Field(64, ge=1, le=2048, description="Chunks embedded per call in ingestion.")
    embedding_preload: bool = Field(
        False,
        description="Load the local embedding model as a web process starts, so that the first question "
        "answered from a knowledge base does not wait for it (~5-10 s; ~460 MiB more per process).",
    )

    # --- deployed chatbots ------------------------------------------------------------------
    dns_resolver: str | None = Field(
        None,
        description="ip[:port] of the DNS server that verifies custom domains. Unset: the system resolver.",
    )
    custom_domain_claim_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days a custom-domain claim may wait for its DNS record; an unverified claim is then released.",
    )
    kubernetes_api_url: str | None = Field(
        None, description="Kubernetes API server URL. Unset: the in-cluster service account configuration."
    )
    kubernetes_namespace: str = Field("smarter", description="Namespace of the chatbot Ingresses.")
    kubernetes_ingress_class: str = Field("nginx", description="ingressClassName of the chatbot Ingresses.")
    kubernetes_cluster_issuer: str = Field(
        "letsencrypt-prod", description="cert-manager ClusterIssuer that signs the chatbot hosts' certificates."
    )
    kubernetes_service_name: str = Field(
        "smarter-web", description="The platform's web Service, the backend of every chatbot Ingress."
    )
    kubernetes_service_port: int = Field(80, ge=1, le=65535, description="Port of that Service.")
    aws_region: str = Field("us-east-1", description="AWS region of the Route53 client.")
    aws_endpoint_url: str | None = Field(
        None, description="AWS API endpoint override (a local stand-in in tests). Unset: AWS itself."
    )
    aws_route53_hosted_zone_id: str | None = Field(
        None, description="Route53 hosted zone of the root domain, where chatbot host records are written."
    )
    aws_route53_target: str | None = Field(
        None, description="Host name the chatbot records point to (CNAME), e.g. the ingress load balancer."
    )
    aws_route53_ttl: int = Field(300, ge=1, le=86400, description="TTL in seconds of the chatbot records.")

    # --- outgoing mail (password resets) -----------------------------------------------------
    email_host: str | None = Field(
        None,
        description="SMTP server of the platform's mail (password resets), e.g. email-smtp.us-east-1.amazonaws.com "
        "for SES. Unset: mail is printed in debug mode and not sent otherwise.",
    )
    email_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server.")
    email_user: str | None = Field(
        None, description="SMTP user name (for SES: the SMTP credentials' user name). Unset: no authentication."
    )
    email_password: SecretStr | None = Field(None, description="SMTP password (for SES: the SMTP password).")
    email_security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade the connection to TLS (port 587); tls: TLS from the start (port 465); "
        "none: no encryption (a relay on the same host only).",
    )
    email_from: str | None = Field(
        None,
        description="From address of the platform's mail, e.g. Smarter <noreply@example.com>. Unset: "
        "noreply@<platform host>.",
    )

    # --- billing, rate limits and budgets (per-account overrides in the admin) ----------------
    rate_limit_api_key_per_minute: int = Field(
        120, ge=0, description="Chat requests per minute per API key (0: unlimited)."
    )
    rate_limit_chatbot_ip_per_minute: int = Field(
        30, ge=0, description="Chat requests per minute to a deployed chatbot per client IP (0: unlimited)."
    )
    rate_limit_user_per_minute: int = Field(
        30,
        ge=0,
        description="Chat turns per minute per signed-in console user: the sandbox and cli chats of a console "
        "session (0: unlimited).",
    )
    rate_limit_evaluation_per_minute: int = Field(
        300,
        ge=0,
        description="Turns per minute of an account's evaluation runs, which wait when they reach it instead of "
        "failing (0: unlimited).",
    )
    evaluation_concurrency: int = Field(
        8,
        ge=1,
        le=64,
        description="Cases of one evaluation run asked at once (each a turn waiting on the model); "
        "on SQLite, the embedded default, always one.",
    )
    rate_limit_channel_webhook_per_minute: int = Field(
        1200,
        ge=0,
        description="Webhook deliveries per minute to one channel, before any is read (0: unlimited); "
        "the providers retry what is refused.",
    )
    rate_limit_channel_refusals_per_minute: int = Field(
        60,
        ge=0,
        description="Refused (unsigned or wrongly signed) webhook deliveries per minute from one address before "
        "they are answered 429 (0: unlimited); proven deliveries are never counted here.",
    )
    channel_send_attempts: int = Field(
        5, ge=1, le=20, description="Attempts to send a channel reply the provider refuses for a reason that may pass."
    )
    channel_retry_seconds: float = Field(
        5.0, gt=0, le=3600, description="Wait before the first new attempt to send a channel reply; doubled each time."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that GET /metrics (Prometheus) requires; /metrics is not served while it is unset.",
    )
    worker_metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port on which a Celery worker serves its own /metrics (same token; 0: not served).",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector base URL (e.g. http://otel-collector:4318) that traces are sent to; "
        "no traces while it is unset.",
    )
    otel_service_name: str = Field(
        "smarter", min_length=1, description="service.name of the traces this process sends."
    )
    otel_sample_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of new traces kept (parent-based: a caller's sampled trace is kept)."
    )
    otel_capture_content: bool = Field(
        False,
        description="Put prompts, answers and tool arguments on the traces' spans (they may hold personal data).",
    )
    sentry_dsn: SecretStr | None = Field(
        None,
        description="Sentry DSN that errors are reported to (personal data and secrets scrubbed); none while unset.",
    )
    sentry_environment: str = Field("production", min_length=1, description="Environment name on Sentry events.")
    sentry_traces_sample_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests Sentry also traces for performance (0: errors only)."
    )
    rate_limit_plugin_test_per_minute: int = Field(
        30, ge=0, description="Plugin test runs per minute per API key or console user (0: unlimited)."
    )
    rate_limit_login_per_minute: int = Field(
        10,
        ge=0,
        description="Sign-in and password-reset attempts per minute per client address and per username or "
        "e-mail (0: unlimited).",
    )
    monthly_token_budget: int = Field(
        0, ge=0, description="Tokens an account may use per calendar month (0: unlimited)."
    )
    budget_warning_percent: int = Field(
        80, ge=1, le=100, description="Share of the monthly budget at which a warning is recorded."
    )
    usage_requeue_seconds: int = Field(
        120, ge=1, description="Usage events still pending after this many seconds are enqueued again."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FileVariablesSource(settings_cls))

    @field_validator("database_url")
    @classmethod
    def _database_scheme_is_known(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in DATABASE_SCHEMES:
            raise ValueError("must be a sqlite://, mysql:// or postgres:// URL")
        return value

    @field_validator(
        "redis_url",
        "openai_base_url",
        "llm_provider",
        "s3_bucket",
        "knowledge_dir",
        "knowledge_index_url",
        "otlp_endpoint",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """An empty variable means unset (as charts and compose files often write them)."""
        return None if value == "" else value

    @field_validator("plugin_data_dir", mode="before")
    @classmethod
    def _plugin_data_dir_is_absolute(cls, value: Any) -> Any:
        """Empty means unset; a relative folder would move with the working directory of each process."""
        if value in ("", None):
            return None
        if not Path(str(value)).is_absolute():
            raise ValueError("must be an absolute path, e.g. /var/lib/smarter/plugin-data")
        return value

    @field_validator("email_host", "email_user", "email_from", mode="before")
    @classmethod
    def _blank_mail_setting_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email_host")
    @classmethod
    def _email_host_is_a_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if any(character in value for character in "/@ \t") or value.count(":") == 1:
            raise ValueError("must be a host name or address, without scheme or port (the port is SMARTER_EMAIL_PORT)")
        return value

    @field_validator("email_password", "metrics_token", "sentry_dsn")
    @classmethod
    def _empty_password_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("email_from")
    @classmethod
    def _email_from_is_an_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _, address = parseaddr(value)
        if "@" not in address or any(character in value for character in "\r\n"):
            raise ValueError("must be an e-mail address, optionally with a name: Smarter <noreply@example.com>")
        return value.strip()

    @field_validator("dns_resolver")
    @classmethod
    def _resolver_is_ip_and_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            address, port = _split_address(value)
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError("must be an IP address with an optional :port, e.g. 10.0.0.2 or 127.0.0.1:5353") from None
        if port is not None and not 0 < port < 65536:
            raise ValueError("the port must be between 1 and 65535")
        return value

    @field_validator(
        "kubernetes_api_url", "aws_endpoint_url", "aws_route53_hosted_zone_id", "aws_route53_target", "otlp_endpoint"
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("kubernetes_api_url", "aws_endpoint_url", "otlp_endpoint")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme_is_known(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("root_domain")
    @classmethod
    def _root_domain_is_a_hostname(cls, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        labels = value.split(".")
        if not value or not all(label and label.replace("-", "").isalnum() for label in labels):
            raise ValueError("must be a DNS name such as localhost or example.com")
        return value

    @field_validator("platform_host")
    @classmethod
    def _platform_host_is_host_and_port(cls, value: str) -> str:
        value = value.strip().lower()
        host, _, port = value.partition(":")
        if not host or (port and not port.isdigit()) or "/" in value:
            raise ValueError("must be host or host:port, without scheme or path")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str) -> str:
        networks = []
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            if item == "*":
                raise ValueError("list the proxies' addresses or ranges: '*' would believe anyone's X-Forwarded-For")
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR range such as 10.0.0.0/8") from None
        return ",".join(networks)

    @field_validator("fernet_keys")
    @classmethod
    def _fernet_keys_are_valid(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        for key in value.get_secret_value().split(","):
            try:
                Fernet(key.strip().encode())
            except ValueError:
                raise ValueError(
                    "must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)"
                ) from None
        return value

    # --- derived values (never set directly) ------------------------------------------------
    @cached_property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'smarter.sqlite3'}"

    @property
    def database_engine(self) -> str:
        scheme = urlsplit(self.effective_database_url).scheme
        return "postgresql" if scheme.startswith("postgres") else scheme

    @property
    def effective_knowledge_dir(self) -> Path:
        return self.knowledge_dir or self.state_dir / "knowledge"

    @property
    def effective_plugin_data_dir(self) -> Path:
        return self.plugin_data_dir or self.state_dir / "plugin-data"

    @property
    def tasks_run_eagerly(self) -> bool:
        """Without a broker, Celery tasks run in the calling process (the embedded default)."""
        return self.redis_url is None

    @property
    def effective_llm_provider(self) -> str:
        if self.llm_provider:
            return self.llm_provider
        return "openai" if self.openai_api_key else "offline"

    @property
    def dns_resolver_address(self) -> tuple[str, int] | None:
        """(address, port) of the configured DNS resolver, or None for the system's."""
        if not self.dns_resolver:
            return None
        address, port = _split_address(self.dns_resolver)
        return address, port or 53

    @property
    def effective_email_from(self) -> str:
        return self.email_from or f"Smarter <noreply@{self.platform_hostname}>"

    @cached_property
    def trusted_proxy_networks(self) -> tuple[str, ...]:
        """The trusted proxies as CIDR ranges (a single address is a /32 or /128)."""
        return tuple(self.trusted_proxies.split(",")) if self.trusted_proxies else ()

    @property
    def platform_hostname(self) -> str:
        return self.platform_host.partition(":")[0]

    @cached_property
    def platform_hostnames(self) -> frozenset[str]:
        """Names the console and the API answer on: the configured host and the loopback names."""
        return frozenset((self.platform_hostname, "localhost", "127.0.0.1", "[::1]", "testserver"))

    @property
    def platform_openai_key(self) -> str | None:
        """The platform's own OpenAI (compatible) key, revealed, or None."""
        return self.openai_api_key.get_secret_value() if self.openai_api_key else None

    def overridden(self, **changes: Any) -> SmarterSettings:
        """A copy with `changes` applied and validated like the environment's values (tests)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        try:
            return type(self)(**{**values, **changes})
        except ValidationError as error:
            raise ConfigurationError(describe_validation_error(error)) from None

    @cached_property
    def effective_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key.get_secret_value()
        return _state_file(self.state_dir, "secret_key", lambda: secrets.token_urlsafe(50))

    @cached_property
    def fernet_key_list(self) -> list[str]:
        """Newest first: the first key encrypts, every key decrypts."""
        if self.fernet_keys:
            return [key.strip() for key in self.fernet_keys.get_secret_value().split(",") if key.strip()]
        return [_state_file(self.state_dir, "fernet_key", lambda: Fernet.generate_key().decode())]

    @property
    def uses_generated_keys(self) -> bool:
        return self.secret_key is None or self.fernet_keys is None


def _split_address(value: str) -> tuple[str, int | None]:
    """`10.0.0.2`, `10.0.0.2:53`, `::1` or `[::1]:53` as (address, port or None)."""
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
        if port and not port.isdigit():
            raise ValueError("the port must be a number")
        return address, int(port) if port else None
    if value.count(":") == 1:
        address, _, port = value.partition(":")
        if not port.isdigit():
            raise ValueError("the port must be a number")
        return address, int(port)
    return value, None


def _state_file(state_dir: Path, name: str, make: Any) -> str:
    """A value generated once and kept in the state directory, so restarts keep sessions and data."""
    path = state_dir / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = str(make())
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable: its environment name, what it accepts and what it got."""
    lines = []
    for item in error.errors():
        field_name = str(item["loc"][0]) if item["loc"] else "?"
        message = item["msg"].removeprefix("Value error, ")
        field = SmarterSettings.model_fields.get(field_name)
        is_secret = field is not None and "SecretStr" in repr(field.annotation)
        got = "a hidden value" if is_secret else repr(item.get("input"))
        lines.append(f"{ENV_PREFIX}{field_name.upper()}: {message} (got {got})")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> SmarterSettings:
    """Read and validate the environment; a bad value raises ConfigurationError naming it."""
    try:
        return SmarterSettings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error)) from None


def setting_names() -> list[str]:
    """Every environment variable name, as `.env.example` and the Helm chart must list them."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in SmarterSettings.model_fields]


def env_example() -> str:
    """The text of `.env.example`: every variable, commented, with its default."""
    lines = [
        "# Smarter's configuration. Every variable is optional: with none set, Smarter runs on its",
        "# embedded defaults (SQLite and generated keys under .smarter/, eager tasks, offline LLM).",
        "# Any variable may be given as <NAME>_FILE: the path of a file holding the value.",
        "",
    ]
    for name, field in SmarterSettings.model_fields.items():
        default = field.default
        shown = "" if default is None or isinstance(default, Path) or default == "" else default
        if isinstance(shown, bool):
            shown = str(shown).lower()
        lines += [f"# {field.description}", f"# SMARTER_{name.upper()}={shown}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(env_example(), end="")
