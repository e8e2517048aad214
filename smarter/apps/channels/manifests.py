"""Kind `Channel` and its broker.

A channel puts a chatbot of the account on a WhatsApp Business number (Meta's Cloud API) or a
Twilio number. `spec.config` holds the provider's fields (its shape follows `spec.type`); the
Secrets it names are looked up in the account. A channel may be applied before its Secrets
exist (to learn `status.webhookUrl` first): it refuses every delivery until they are set, and
`status.missing` says which. The Secrets it names are sent to the provider's API, so naming,
swapping or removing one, and changing where they go, is an admin's decision
(`secret_policy`); a member may change the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from pydantic import Field, StringConstraints, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from smarter.apps.account import selectors as account_selectors
from smarter.apps.account.secret_policy import BindingFields, SecretBindingRule
from smarter.apps.channels import selectors, services
from smarter.apps.channels.addresses import webhook_url
from smarter.apps.channels.models import Channel
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, RowServices, register
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName, field_errors
from smarter.lib.outbound import server_url

GRAPH_BASE_URL = "https://graph.facebook.com/v21.0"
TWILIO_API_BASE_URL = "https://api.twilio.com"
OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]
OPT_IN_WORDS = ["START", "UNSTOP"]
SECRET_FIELDS = ("access_token", "app_secret", "verify_token", "auth_token")

Word = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^\S+$")]


def _server_url(value: str) -> str:
    # Where the channel's token is sent: normalised as the HTTP client will read it, and an
    # address the platform may not call (in any spelling) refused here, at the field.
    return server_url(value).rstrip("/")


class WhatsAppConfig(CamelModel):
    phone_number_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,64}$")] = Field(
        description="The business number's id in Meta's WhatsApp Manager (not the phone number itself)"
    )
    access_token: ResourceName | None = Field(None, description="A Secret holding a system user's access token")
    app_secret: ResourceName | None = Field(
        None, description="A Secret holding the Meta app's secret, which signs every delivery"
    )
    verify_token: ResourceName | None = Field(
        None, description="A Secret holding the verify token you type in the app's webhook settings"
    )
    graph_base_url: str = Field(GRAPH_BASE_URL, max_length=500, description="The Graph API, with its version")

    @field_validator("graph_base_url")
    @classmethod
    def _graph(cls, value: str) -> str:
        return _server_url(value)


class TwilioConfig(CamelModel):
    account_sid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")] = Field(
        description="The Twilio account's SID (AC...)"
    )
    auth_token: ResourceName | None = Field(
        None, description="A Secret holding the account's auth token, which signs every delivery"
    )
    from_number: Annotated[str, StringConstraints(pattern=r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")] = Field(
        description="The Twilio number in E.164 (+15551234567), or whatsapp:+15551234567 for WhatsApp"
    )
    api_base_url: str = Field(TWILIO_API_BASE_URL, max_length=500, description="Twilio's REST API")
    public_url: str | None = Field(
        None,
        max_length=500,
        description="The webhook URL exactly as Twilio calls it (status.webhookUrl unless a proxy changes it); "
        "signatures are checked against it",
    )

    @field_validator("api_base_url")
    @classmethod
    def _api(cls, value: str) -> str:
        return _server_url(value)

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http or https URL")
        return value


CONFIGS: dict[str, type[CamelModel]] = {"whatsapp": WhatsAppConfig, "twilio": TwilioConfig}


class LimitsSpec(CamelModel):
    per_minute: int = Field(6, ge=0, le=600, description="Turns one sender may ask per minute (0: unlimited)")
    per_day: int = Field(200, ge=0, le=100_000, description="Turns one sender may ask per day, UTC (0: unlimited)")


class ChannelSpec(CamelModel):
    chatbot: ResourceName = Field(description="A Chatbot of your account; it answers every message")
    type: Literal["whatsapp", "twilio"]
    config: dict[str, Any] = Field(
        description="whatsapp: phoneNumberId, accessToken, appSecret, verifyToken, graphBaseUrl; "
        "twilio: accountSid, authToken, fromNumber, apiBaseUrl, publicUrl",
        json_schema_extra={
            "anyOf": [model.model_json_schema(by_alias=True) for model in (WhatsAppConfig, TwilioConfig)]
        },
    )
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    opt_out_words: list[Word] = Field(
        default_factory=lambda: list(OPT_OUT_WORDS),
        max_length=20,
        description="A message of one of these words (any case) stops every reply to its sender",
    )
    opt_in_words: list[Word] = Field(
        default_factory=lambda: list(OPT_IN_WORDS),
        max_length=20,
        description="A message of one of these words from a sender who stopped turns replies on again",
    )


class ChannelManifest(Manifest):
    kind: Literal["Channel"] = "Channel"
    spec: ChannelSpec


def _config_fields(spec: ChannelSpec) -> dict[str, Any]:
    """The model's provider fields: the spec's type's, and the other type's blank."""
    fields: dict[str, Any] = {
        "phone_number_id": "",
        "graph_base_url": "",
        "account_sid": "",
        "from_number": "",
        "api_base_url": "",
        "public_url": "",
    }
    fields.update({name: None for name in SECRET_FIELDS})
    config = CONFIGS[spec.type].model_validate(spec.config)
    for name in type(config).model_fields:
        value = getattr(config, name)
        fields[name] = "" if value is None and name not in SECRET_FIELDS else value
    return fields


class ChannelBroker(SecretBindingRule, ModelBroker[Channel]):
    kind = "Channel"
    manifest_model = ChannelManifest
    write_role = "member"  # within the Secret rule below
    columns = (
        Column("name"),
        Column("chatbot", source=lambda channel: channel.chatbot.name),
        Column("type"),
        Column("webhookUrl", source=webhook_url),
    )
    writes = RowServices(services, "channel")
    binding = BindingFields(
        secrets={name: f"spec.config.{to_camel(name)}" for name in SECRET_FIELDS},
        target={
            "graph_base_url": "spec.config.graphBaseUrl",
            "phone_number_id": "spec.config.phoneNumberId",
            "api_base_url": "spec.config.apiBaseUrl",
            "account_sid": "spec.config.accountSid",
        },
    )

    def rows(self, caller: Caller) -> QuerySet[Channel]:
        return selectors.channels_of(caller.account)

    def validate(self, document: dict[str, Any]) -> Manifest:
        """The envelope, then `spec.config` against the model of `spec.type`, errors at their paths."""
        manifest = super().validate(document)
        spec: ChannelSpec = manifest.spec
        try:
            config = CONFIGS[spec.type].model_validate(spec.config)
        except ValidationError as error:
            raise self.invalid(manifest.metadata.name, field_errors(error, prefix="spec.config")) from None
        spec.config = config.model_dump(by_alias=True, exclude_none=True)
        return manifest

    def fields_of(self, caller: Caller, manifest: Any, row: Channel | None) -> dict[str, Any]:
        spec: ChannelSpec = manifest.spec
        problems: list[FieldError] = []
        chatbot = chatbot_get(account=caller.account, name=spec.chatbot)
        if chatbot is None:
            problems.append(FieldError("spec.chatbot", f"no Chatbot named {spec.chatbot!r} in your account"))
        fields = _config_fields(spec)
        for name in SECRET_FIELDS:
            secret_name = fields[name]
            if secret_name is None:
                continue
            secret = account_selectors.secret_get(account=caller.account, name=secret_name)
            if secret is None:
                loc = self.binding.secrets[name]
                problems.append(FieldError(loc, f"no Secret named {secret_name!r} in your account"))
            fields[name] = secret
        if problems:
            raise self.invalid(manifest.metadata.name, problems)
        return {
            **self.metadata_fields(manifest),
            **fields,
            "chatbot": chatbot,
            "type": spec.type,
            "sender_turns_per_minute": spec.limits.per_minute,
            "sender_turns_per_day": spec.limits.per_day,
            "opt_out_words": [word.upper() for word in spec.opt_out_words],
            "opt_in_words": [word.upper() for word in spec.opt_in_words],
        }

    def spec_values(self, row: Channel) -> dict[str, Any]:
        model = CONFIGS[row.type]
        config: dict[str, Any] = {}
        for name in model.model_fields:
            value = getattr(row, name)
            if name in SECRET_FIELDS:
                value = value.name if value is not None else None
            if value not in (None, ""):
                config[to_camel(name)] = value
        return {
            "chatbot": row.chatbot.name,
            "type": row.type,
            "config": config,
            "limits": LimitsSpec(per_minute=row.sender_turns_per_minute, per_day=row.sender_turns_per_day),
            "opt_out_words": list(row.opt_out_words),
            "opt_in_words": list(row.opt_in_words),
        }

    def status_of(self, row: Channel) -> dict[str, Any]:
        return selectors.channel_status(row)


def register_kinds() -> None:
    register(ChannelBroker())
