"""Kinds `Chatbot` and `Provider` and their brokers."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from django.db.models import Max, QuerySet
from pydantic import AfterValidator, Field, field_validator

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.features import CUSTOM_DOMAINS
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.account.secret_policy import BindingFields, SecretBindingRule
from smarter.apps.chatbot import hosts, selectors, services, versions
from smarter.apps.chatbot.models import Chatbot, DomainStatus, Provider
from smarter.apps.plugin.builtins import BUILTINS
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.selectors import plugins_named
from smarter.apps.plugin.tools import build_toolset
from smarter.lib.errors import FieldError, PermissionDenied, ValidationFailed
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, RowServices, Written, register
from smarter.lib.manifests.broker import Caller, plain
from smarter.lib.manifests.envelope import ResourceName, section_manifest
from smarter.lib.outbound import browser_url, server_host, server_url

PLATFORM_PROVIDERS = ("openai", "offline")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ORIGIN = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:(?P<port>\d{1,5}))?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def _browser_url(value: str | None) -> str | None:
    # Fetched by visitors' browsers and placed in the page: parsed and normalised like every
    # tenant URL, with no quote, space or angle bracket that could leave an attribute or a url().
    return browser_url(value) if value else None


HttpUrl = Annotated[str | None, Field(None, max_length=500), AfterValidator(_browser_url)]


class ChatbotConfig(CamelModel):
    provider: str = Field("", max_length=50, description="openai, offline or a Provider's name; empty: platform")
    default_model: str = Field("", max_length=255, description="empty: the provider's default model")
    default_system_role: str = Field("You are a helpful assistant.", max_length=16384)
    default_temperature: float = Field(0.5, ge=0, le=2)
    default_max_tokens: int = Field(1024, ge=1, le=32768)
    app_name: str = Field("", max_length=255)
    app_assistant: str = Field("", max_length=255)
    app_welcome_message: str = Field("", max_length=2000)
    app_example_prompts: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=10)
    app_placeholder: str = Field("", max_length=255)
    app_info_url: HttpUrl = None
    app_logo_url: HttpUrl = None
    app_background_image_url: HttpUrl = None
    subdomain: str | None = Field(None, description="DNS label of the default host; default: the name")
    custom_domain: str | None = Field(None, description="e.g. chat.example.com, verified by a DNS TXT record")
    deployed: bool = False
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Origins (https://www.example.com) that may embed the widget or call the chat endpoints",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            origin = origin.strip().rstrip("/").lower()
            match = _ORIGIN.match(origin)
            if not match or (match["port"] and not 0 < int(match["port"]) <= 65535):
                raise ValueError(f"{origin!r} must be an origin: http(s)://host[:port], without a path")
            cleaned.append(origin)
        return list(dict.fromkeys(cleaned))

    @field_validator("subdomain")
    @classmethod
    def _dns_label(cls, value: str | None) -> str | None:
        if value and not _DNS_LABEL.match(value):
            raise ValueError("must be a DNS label: lowercase letters, digits and inner dashes, at most 63")
        return value or None

    @field_validator("custom_domain")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value:
            # The platform looks the domain up (its DNS record) and serves it: normalised like
            # every host a tenant gives, stored as its ASCII (IDNA) form.
            value = server_host(value)
            if not _HOSTNAME.match(value):
                raise ValueError("must be a host name such as chat.example.com")
        return value or None


class ChatbotSpec(CamelModel):
    config: ChatbotConfig = Field(default_factory=ChatbotConfig)
    plugins: list[ResourceName] = Field(default_factory=list, max_length=128)
    functions: list[str] = Field(default_factory=list)
    api_key: ResourceName | None = Field(None, description="An ApiKey's name: its key is then required to chat")

    @field_validator("functions")
    @classmethod
    def _known_functions(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in BUILTINS]
        if unknown:
            raise ValueError(f"unknown function {unknown[0]!r}; available: {', '.join(sorted(BUILTINS))}")
        return list(dict.fromkeys(value))

    @field_validator("plugins")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class ChatbotManifest(Manifest):
    kind: Literal["Chatbot"] = "Chatbot"
    spec: ChatbotSpec = Field(default_factory=ChatbotSpec)


class ChatbotBroker(ModelBroker[Chatbot]):
    kind = "Chatbot"
    aliases = ("ChatBot", "LLMClient")
    manifest_model = ChatbotManifest
    write_role = "member"
    columns = (
        Column("name"),
        Column("provider", source=lambda chatbot: chatbot.provider or "platform"),
        Column("model", source="default_model"),
        Column("plugins", "integer", source=lambda chatbot: chatbot.attachments.count()),
        Column("deployed", "boolean"),
        Column("url", source=hosts.default_url),
    )
    writes = RowServices(services, "chatbot")

    def rows(self, caller: Caller) -> QuerySet[Chatbot]:
        return selectors.chatbots_of(caller.account)

    # --- apply: every name the manifest gives is looked up in the caller's account ---------------
    def fields_of(self, caller: Caller, manifest: Any, row: Chatbot | None) -> dict[str, Any]:
        spec = manifest.spec
        plugins = self._plugins(caller, spec.plugins)
        provider = self._provider(caller, spec.config.provider)
        api_key = self._api_key(caller, spec.api_key)
        fields = super().fields_of(caller, manifest, row)
        return {**fields, "provider": provider, "functions": spec.functions, "api_key": api_key, "plugins": plugins}

    def _plugins(self, caller: Caller, names: list[str]) -> list[Plugin]:
        found = {plugin.name: plugin for plugin in plugins_named(account=caller.account, names=names)}
        missing = [
            FieldError(f"spec.plugins[{i}]", f"no plugin named {n!r} in your account")
            for i, n in enumerate(names)
            if n not in found
        ]
        if missing:
            raise ValidationFailed(
                "The chatbot names plugins that do not exist.", context={"kind": self.kind}, errors=missing
            )
        return [found[name] for name in names]

    def _provider(self, caller: Caller, name: str) -> str:
        if not name or name in PLATFORM_PROVIDERS:
            return name
        if selectors.provider_get(account=caller.account, name=name) is None:
            raise ValidationFailed(
                f"Unknown provider {name!r}.",
                context={"kind": self.kind},
                errors=[
                    FieldError(
                        "spec.config.provider",
                        f"must be openai, offline or a Provider of your account; {name!r} is none",
                    )
                ],
            )
        return name

    def _api_key(self, caller: Caller, name: str | None) -> Any:
        if name is None:
            return None
        key = account_selectors.api_key_get(account=caller.account, name=name)
        if key is None:
            raise ValidationFailed(
                f"Unknown API key {name!r}.",
                context={"kind": self.kind},
                errors=[FieldError("spec.apiKey", f"no ApiKey named {name!r} in your account")],
            )
        return key

    def authorize_write(self, caller: Caller, name: str, row: Chatbot | None, fields: dict[str, Any]) -> None:
        self._check_admin_fields(caller, row, fields)
        claiming = fields["custom_domain"] and (row is None or row.custom_domain != fields["custom_domain"])
        if claiming and not feature_enabled(account=caller.account, feature=CUSTOM_DOMAINS):
            raise PermissionDenied(
                "Custom domains are not enabled for your account.", context={"kind": self.kind, "name": name}
            )

    def _check_admin_fields(self, caller: Caller, chatbot: Chatbot | None, fields: dict[str, Any]) -> None:
        """Deployment, domains and the required key are for admins; members tune the rest."""
        if caller.is_admin:
            return
        guarded: dict[str, Any] = {"deployed": False, "custom_domain": "", "api_key": None, "allowed_origins": []}
        for field, default in guarded.items():
            current = getattr(chatbot, field) if chatbot is not None else default
            if fields[field] != current:
                raise PermissionDenied(
                    f"Only an account admin may change {field} of a chatbot.", context={"kind": self.kind}
                )

    def write(self, caller: Caller, name: str, row: Chatbot | None, fields: dict[str, Any]) -> Written[Chatbot]:
        written = super().write(caller, name, row, fields)
        if written.action != "unchanged":  # every change of configuration is a version
            spec = self.spec_of(written.row)
            versions.chatbot_version_record(chatbot=written.row, spec=spec, user=caller.user, note=written.action)
        return written

    # --- reads -------------------------------------------------------------------------------
    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        chatbot = self.row(caller, name)
        claim = selectors.domain_of(chatbot)
        if claim is not None and claim.status != DomainStatus.VERIFIED:
            services.domain_verify(claim=claim, timeout=2.0)  # describe checks the DNS record again
        return self.manifest_of(chatbot)

    def spec_values(self, row: Chatbot) -> dict[str, Any]:
        return {
            "config": self.section_from(ChatbotConfig, row),
            "plugins": [plugin.name for plugin in selectors.attached_plugins(row)],
            "functions": row.functions,
            "api_key": plain(row.api_key),
        }

    def status_of(self, row: Chatbot) -> dict[str, Any]:
        claim = selectors.domain_of(row)
        toolset = build_toolset(selectors.attached_plugins(row), functions=row.functions)
        return {
            "accountNumber": row.account.account_number,
            "deployed": row.deployed,
            "defaultHost": hosts.default_host(row),
            "defaultUrl": hosts.default_url(row),
            "customUrl": hosts.custom_url(row),
            "sandboxUrl": hosts.sandbox_url(row),
            "dnsVerificationStatus": claim.get_status_display() if claim is not None else "Not applicable",
            "dnsVerificationRecord": (
                {"name": claim.challenge_name, "type": "TXT", "value": claim.token} if claim is not None else None
            ),
            "dnsVerificationDeadline": _deadline(claim),
            "tools": [schema["function"]["name"] for schema in toolset.schemas],
            "configurationVersion": row.versions.aggregate(last=Max("number"))["last"],
        }

    def authorize_delete(self, caller: Caller, row: Chatbot) -> None:
        if row.deployed and not caller.is_admin:
            raise PermissionDenied("Only an account admin may delete a deployed chatbot.", context={"kind": self.kind})


class ProviderConnection(CamelModel):
    base_url: str = Field(max_length=500, description="OpenAI-compatible base URL, e.g. https://api.groq.com/openai/v1")
    api_key: ResourceName | None = Field(None, description="A Secret's name holding the key")
    default_model: str = Field(min_length=1, max_length=255)
    timeout: int = Field(60, ge=1, le=600, description="seconds")

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        # Normalised as the HTTP client will read it; an address the platform may not call
        # (in any spelling) is refused here, at the field.
        return server_url(value).rstrip("/")


ProviderManifest = section_manifest("Provider", "provider", ProviderConnection)


class ProviderBroker(SecretBindingRule, ModelBroker[Provider]):
    kind = "Provider"
    manifest_model = ProviderManifest
    section = "provider"
    columns = (Column("name"), Column("baseUrl"), Column("defaultModel"), Column("apiKey"))
    writes = RowServices(services, "provider")
    # The rule of every kind that sends a Secret to a target (writes of Providers are for admins
    # anyway: a provider receives every conversation of the chatbots that use it).
    binding = BindingFields.of("spec.provider", secrets=["api_key"], target=["base_url"])

    def rows(self, caller: Caller) -> QuerySet[Provider]:
        return selectors.providers_of(caller.account)

    def fields_of(self, caller: Caller, manifest: Any, row: Provider | None) -> dict[str, Any]:
        name = manifest.spec.provider.api_key
        secret = account_selectors.secret_get(account=caller.account, name=name) if name else None
        if name and secret is None:
            raise ValidationFailed(
                f"Unknown secret {name!r}.",
                context={"kind": self.kind, "name": manifest.metadata.name},
                errors=[FieldError("spec.provider.apiKey", f"no Secret named {name!r} in your account")],
            )
        return {**super().fields_of(caller, manifest, row), "api_key": secret}

    def status_of(self, row: Provider) -> dict[str, Any]:
        return {
            "usedBy": sorted(
                selectors.chatbots_of(row.account).filter(provider=row.name).values_list("name", flat=True)
            )
        }


def register_kinds() -> None:
    for broker in (ChatbotBroker(), ProviderBroker()):
        register(broker)


def _deadline(claim: Any) -> str | None:
    """When an unverified claim is released unless its record is found (ISO 8601, UTC)."""
    deadline = services.domain_claim_deadline(claim) if claim is not None else None
    return deadline.isoformat() if deadline is not None else None
