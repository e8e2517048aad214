"""Kinds `Chatbot` and `Provider` and their brokers."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from django.db.models import Max
from pydantic import AfterValidator, Field, field_validator

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.features import CUSTOM_DOMAINS
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.account.secret_policy import BindingFields, secret_binding_authorize
from smarter.apps.chatbot import hosts, selectors, services, versions
from smarter.apps.chatbot.models import Chatbot, DomainStatus, Provider
from smarter.apps.plugin.builtins import BUILTINS
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.selectors import plugins_named
from smarter.apps.plugin.tools import build_toolset
from smarter.lib.errors import FieldError, PermissionDenied, ValidationFailed
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest, register
from smarter.lib.manifests.broker import ApplyAction, Caller
from smarter.lib.manifests.envelope import ResourceName
from smarter.lib.outbound import browser_url, server_host, server_url

PLATFORM_PROVIDERS = ("openai", "offline")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ORIGIN = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:\d{1,5})?$")
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
            if not _ORIGIN.match(origin):
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


class ChatbotBroker(Broker):
    kind = "Chatbot"
    aliases = ("ChatBot", "LLMClient")
    manifest_model = ChatbotManifest
    write_role = "member"
    columns = (
        Column("name"),
        Column("provider"),
        Column("model"),
        Column("plugins", "integer"),
        Column("deployed", "boolean"),
        Column("url"),
    )

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        spec = manifest.spec
        config = spec.config
        name = manifest.metadata.name
        plugins = self._plugins(caller, spec.plugins)
        fields = {
            "description": manifest.metadata.description,
            "version": manifest.metadata.version,
            "tags": manifest.metadata.tags,
            "annotations": manifest.metadata.annotations,
            "provider": self._provider(caller, config.provider),
            "default_model": config.default_model,
            "default_system_role": config.default_system_role,
            "default_temperature": config.default_temperature,
            "default_max_tokens": config.default_max_tokens,
            "app_name": config.app_name,
            "app_assistant": config.app_assistant,
            "app_welcome_message": config.app_welcome_message,
            "app_example_prompts": config.app_example_prompts,
            "app_placeholder": config.app_placeholder,
            "app_info_url": config.app_info_url or "",
            "app_logo_url": config.app_logo_url or "",
            "app_background_image_url": config.app_background_image_url or "",
            "subdomain": config.subdomain or "",
            "custom_domain": config.custom_domain or "",
            "deployed": config.deployed,
            "allowed_origins": config.allowed_origins,
            "functions": spec.functions,
            "api_key": self._api_key(caller, spec.api_key),
        }
        chatbot = selectors.chatbot_get(account=caller.account, name=name)
        self._check_admin_fields(caller, chatbot, fields)
        claiming = fields["custom_domain"] and (chatbot is None or chatbot.custom_domain != fields["custom_domain"])
        if claiming and not feature_enabled(account=caller.account, feature=CUSTOM_DOMAINS):
            raise PermissionDenied(
                "Custom domains are not enabled for your account.", context={"kind": self.kind, "name": name}
            )
        action: ApplyAction
        if chatbot is None:
            chatbot = services.chatbot_create(account=caller.account, name=name, plugins=plugins, **fields)
            action = "created"
        else:
            changed = services.chatbot_update(chatbot=chatbot, plugins=plugins, **fields)
            action = "updated" if changed else "unchanged"
        if action != "unchanged":
            described = self._describe(chatbot)
            versions.chatbot_version_record(chatbot=chatbot, spec=described["spec"], user=caller.user, note=action)
        return ApplyOutcome(action, self._describe(chatbot))

    # --- references, each checked in the caller's account --------------------------------------
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

    # --- reads -------------------------------------------------------------------------------
    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": chatbot.name,
                "provider": chatbot.provider or "platform",
                "model": chatbot.default_model,
                "plugins": chatbot.attachments.count(),
                "deployed": chatbot.deployed,
                "url": hosts.default_url(chatbot),
            }
            for chatbot in selectors.chatbots_of(caller.account)
        ]

    def _get(self, caller: Caller, name: str) -> Chatbot:
        chatbot = selectors.chatbot_get(account=caller.account, name=name)
        if chatbot is None:
            raise self.not_found(name)
        return chatbot

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        chatbot = self._get(caller, name)
        claim = selectors.domain_of(chatbot)
        if claim is not None and claim.status != DomainStatus.VERIFIED:
            services.domain_verify(claim=claim, timeout=2.0)  # describe checks the DNS record again
        return self._describe(chatbot)

    def _describe(self, chatbot: Chatbot) -> dict[str, Any]:
        plugins = selectors.attached_plugins(chatbot)
        claim = selectors.domain_of(chatbot)
        toolset = build_toolset(plugins, functions=chatbot.functions)
        return self.envelope(
            {
                "name": chatbot.name,
                "description": chatbot.description,
                "version": chatbot.version,
                "tags": chatbot.tags,
                "annotations": chatbot.annotations,
            },
            {
                "config": {
                    "provider": chatbot.provider,
                    "defaultModel": chatbot.default_model,
                    "defaultSystemRole": chatbot.default_system_role,
                    "defaultTemperature": chatbot.default_temperature,
                    "defaultMaxTokens": chatbot.default_max_tokens,
                    "appName": chatbot.app_name,
                    "appAssistant": chatbot.app_assistant,
                    "appWelcomeMessage": chatbot.app_welcome_message,
                    "appExamplePrompts": chatbot.app_example_prompts,
                    "appPlaceholder": chatbot.app_placeholder,
                    "appInfoUrl": chatbot.app_info_url or None,
                    "appLogoUrl": chatbot.app_logo_url or None,
                    "appBackgroundImageUrl": chatbot.app_background_image_url or None,
                    "subdomain": chatbot.subdomain or None,
                    "customDomain": chatbot.custom_domain or None,
                    "deployed": chatbot.deployed,
                    "allowedOrigins": chatbot.allowed_origins,
                },
                "plugins": [plugin.name for plugin in plugins],
                "functions": chatbot.functions,
                "apiKey": chatbot.api_key.name if chatbot.api_key else None,
            },
            {
                "accountNumber": chatbot.account.account_number,
                "deployed": chatbot.deployed,
                "defaultHost": hosts.default_host(chatbot),
                "defaultUrl": hosts.default_url(chatbot),
                "customUrl": hosts.custom_url(chatbot),
                "sandboxUrl": hosts.sandbox_url(chatbot),
                "dnsVerificationStatus": claim.get_status_display() if claim is not None else "Not applicable",
                "dnsVerificationRecord": (
                    {"name": claim.challenge_name, "type": "TXT", "value": claim.token} if claim is not None else None
                ),
                "dnsVerificationDeadline": _deadline(claim),
                "tools": [schema["function"]["name"] for schema in toolset.schemas],
                "configurationVersion": chatbot.versions.aggregate(last=Max("number"))["last"],
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        chatbot = self._get(caller, name)
        self.check_can_write(caller)
        if chatbot.deployed and not caller.is_admin:
            raise PermissionDenied("Only an account admin may delete a deployed chatbot.", context={"kind": self.kind})
        services.chatbot_delete(chatbot=chatbot)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "Chatbot",
            "metadata": {"name": "support", "description": "Answers questions about our products", "version": "0.1.0"},
            "spec": {
                "config": {
                    "provider": "",
                    "defaultModel": "",
                    "defaultSystemRole": "You are the friendly support assistant of Example Corp. Use your tools.",
                    "defaultTemperature": 0.5,
                    "defaultMaxTokens": 1024,
                    "appName": "Example Corp Support",
                    "appAssistant": "Sam",
                    "appWelcomeMessage": "Hi! Ask me about our products.",
                    "appExamplePrompts": ["What does the Everlasting Gobstopper cost?", "What is 17% of 2350?"],
                    "appPlaceholder": "Ask me anything...",
                    "appInfoUrl": "https://example.com/support",
                    "deployed": False,
                },
                "plugins": [],
                "functions": ["calculator", "date_calculator"],
                "apiKey": None,
            },
        }


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


class ProviderSpec(CamelModel):
    provider: ProviderConnection


class ProviderManifest(Manifest):
    kind: Literal["Provider"] = "Provider"
    spec: ProviderSpec


# The rule of every kind that sends a Secret to a target (writes of Providers are for admins
# anyway: a provider receives every conversation of the chatbots that use it).
PROVIDER_BINDING = BindingFields(
    secrets={"api_key": "spec.provider.apiKey"}, target={"base_url": "spec.provider.baseUrl"}
)


class ProviderBroker(Broker):
    kind = "Provider"
    manifest_model = ProviderManifest
    columns = (Column("name"), Column("baseUrl"), Column("defaultModel"), Column("apiKey"))

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        self.check_can_write(caller)
        connection = manifest.spec.provider
        secret = None
        if connection.api_key:
            secret = account_selectors.secret_get(account=caller.account, name=connection.api_key)
            if secret is None:
                raise ValidationFailed(
                    f"Unknown secret {connection.api_key!r}.",
                    context={"kind": self.kind, "name": manifest.metadata.name},
                    errors=[
                        FieldError("spec.provider.apiKey", f"no Secret named {connection.api_key!r} in your account")
                    ],
                )
        fields = {
            "description": manifest.metadata.description,
            "version": manifest.metadata.version,
            "base_url": connection.base_url,
            "api_key": secret,
            "default_model": connection.default_model,
            "timeout": connection.timeout,
        }
        provider = selectors.provider_get(account=caller.account, name=manifest.metadata.name)
        secret_binding_authorize(
            caller=caller,
            kind=self.kind,
            name=manifest.metadata.name,
            before=PROVIDER_BINDING.read(provider),
            after=PROVIDER_BINDING.read(fields),
        )
        action: ApplyAction
        if provider is None:
            provider = services.provider_create(account=caller.account, name=manifest.metadata.name, **fields)
            action = "created"
        else:
            action = "updated" if services.provider_update(provider=provider, **fields) else "unchanged"
        return ApplyOutcome(action, self._describe(provider))

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [
            {
                "name": provider.name,
                "baseUrl": provider.base_url,
                "defaultModel": provider.default_model,
                "apiKey": provider.api_key.name if provider.api_key else None,
            }
            for provider in selectors.providers_of(caller.account)
        ]

    def _get(self, caller: Caller, name: str) -> Provider:
        provider = selectors.provider_get(account=caller.account, name=name)
        if provider is None:
            raise self.not_found(name)
        return provider

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self._describe(self._get(caller, name))

    def _describe(self, provider: Provider) -> dict[str, Any]:
        return self.envelope(
            {
                "name": provider.name,
                "description": provider.description,
                "version": provider.version,
                "tags": [],
                "annotations": [],
            },
            {
                "provider": {
                    "baseUrl": provider.base_url,
                    "apiKey": provider.api_key.name if provider.api_key else None,
                    "defaultModel": provider.default_model,
                    "timeout": provider.timeout,
                }
            },
            {
                "usedBy": sorted(
                    Chatbot.objects.filter(account=provider.account, provider=provider.name).values_list(
                        "name", flat=True
                    )
                )
            },
        )

    def delete(self, caller: Caller, name: str) -> None:
        provider = self._get(caller, name)
        self.check_can_write(caller)
        secret_binding_authorize(
            caller=caller, kind=self.kind, name=name, before=PROVIDER_BINDING.read(provider), after=None
        )
        services.provider_delete(provider=provider)

    def example(self) -> dict[str, Any]:
        return {
            "apiVersion": "smarter.sh/v1",
            "kind": "Provider",
            "metadata": {"name": "groq", "description": "Groq's OpenAI-compatible endpoint", "version": "0.1.0"},
            "spec": {
                "provider": {
                    "baseUrl": "https://api.groq.com/openai/v1",
                    "apiKey": "crm_api_token",
                    "defaultModel": "llama-3.1-8b-instant",
                    "timeout": 60,
                }
            },
        }


def register_kinds() -> None:
    for broker in (ChatbotBroker(), ProviderBroker()):
        register(broker)


def _deadline(claim: Any) -> str | None:
    """When an unverified claim is released unless its record is found (ISO 8601, UTC)."""
    deadline = services.domain_claim_deadline(claim) if claim is not None else None
    return deadline.isoformat() if deadline is not None else None
