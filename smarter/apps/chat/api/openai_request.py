"""What the OpenAI door accepts: a Chat Completions request, validated into the turn's input.

Every parameter either works or is refused with a 400 naming it (`error.param`): nothing a client
sends is silently ignored. The client's own `tools` go to the model beside the chatbot's plugins
(a call of one comes back to the client); `tool_choice` and the parameters in `FORWARDED` go to
the upstream as the client sent them. Nothing a client sends can redirect the call (no base URL,
key or header passes through).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError, field_validator

from smarter.apps.chat.doors import MAX_PROMPT_CHARACTERS
from smarter.apps.chat.providers.base import Message, ToolCall
from smarter.lib.errors import FieldError, ValidationFailed
from smarter.lib.manifests.envelope import format_loc

MAX_MESSAGES = 100
MAX_COMPLETION_TOKENS = 32_768
MAX_CLIENT_TOOLS = 64
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"
# OpenAI parameters passed to the upstream as the client sent them (`ProviderRequest.parameters`).
FORWARDED = ("response_format", "seed", "stop", "user", "parallel_tool_calls")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: str


class CalledFunction(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(max_length=MAX_PROMPT_CHARACTERS)


class MessageToolCall(BaseModel):
    """A call the model made in an earlier answer, as the client sends it back."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100)
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. `name`, `refusal`: accepted and not used

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[MessageToolCall] | None = Field(None, max_length=MAX_CLIENT_TOOLS)
    tool_call_id: str | None = Field(None, min_length=1, max_length=100)

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str | list[TextPart] | None) -> str | list[TextPart] | None:
        text = value if isinstance(value, str) else "".join(part.text for part in value or [])
        if len(text) > MAX_PROMPT_CHARACTERS:
            raise ValueError(f"at most {MAX_PROMPT_CHARACTERS} characters")
        return value

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOOL_NAME)
    description: str | None = Field(None, max_length=MAX_PROMPT_CHARACTERS)
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class ClientTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=TOOL_NAME)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool = False


class CompletionRequest(BaseModel):
    # A parameter not named here is refused ("unsupported parameter"), never ignored.
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=50)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    max_tokens: StrictInt | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    max_completion_tokens: StrictInt | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    tools: list[ClientTool] | None = Field(None, max_length=MAX_CLIENT_TOOLS)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    response_format: ResponseFormat | None = None
    stop: str | list[str] | None = None
    seed: StrictInt | None = None
    user: str | None = Field(None, max_length=256)
    n: StrictInt | None = Field(None, ge=1, le=128)
    logprobs: StrictBool | None = None

    @field_validator("stop")
    @classmethod
    def _stop_sequences(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not 1 <= len(value) <= 4:
            raise ValueError("give from 1 to 4 stop sequences")
        return value


@dataclass(frozen=True)
class ClientRequest:
    """The validated request, and what of it the turn takes as it was sent."""

    body: CompletionRequest
    messages: tuple[Message, ...]
    tools: tuple[dict[str, Any], ...]
    tool_choice: str | dict[str, Any] | None
    parameters: dict[str, Any]


def client_request(raw: dict[str, Any]) -> ClientRequest:
    """`raw` (the JSON body) validated; `ValidationFailed` naming the first bad field otherwise."""
    try:
        body = CompletionRequest.model_validate(raw)
    except ValidationError as error:
        raise _invalid(_field_errors(error)) from None
    errors = _refusals(body)
    if errors:
        raise _invalid(errors)
    tools = tuple(raw.get("tools") or ())
    parameters = {name: raw[name] for name in FORWARDED if raw.get(name) is not None}
    if body.response_format is not None and body.response_format.type == "text":
        parameters.pop("response_format")  # the default: every model answers text
    return ClientRequest(
        body=body,
        messages=_messages(body),
        tools=tools,
        tool_choice=raw.get("tool_choice") if tools else None,
        parameters=parameters,
    )


# The steps pydantic adds to a path inside a union ("stop.str", "tool_choice.NamedToolChoice"): not fields.
_UNION_STEP = re.compile(r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|literal\[.*\]|function-.*|[A-Z]\w*)$")


def _field_errors(error: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in error.errors(include_url=False):
        loc = format_loc(tuple(part for part in item["loc"] if not (isinstance(part, str) and _UNION_STEP.match(part))))
        message = item["msg"].removeprefix("Value error, ")
        if any(known.loc == (loc or "(root)") for known in errors):
            continue  # the same field through two branches of a union: said once
        errors.append(
            FieldError(loc or "(root)", "unsupported parameter" if item["type"] == "extra_forbidden" else message)
        )
    return errors


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    first = errors[0]
    return ValidationFailed(f"Invalid parameter {first.loc}: {first.msg}.", errors=errors)


def _refusals(body: CompletionRequest) -> list[FieldError]:
    """What the types cannot say: names that must agree, and values this door does not serve."""
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, tool in enumerate(body.tools or ()):
        if tool.function.name in names:
            errors.append(FieldError(f"tools[{index}].function.name", "two tools have this name"))
        names.add(tool.function.name)
    if body.tool_choice is not None and not body.tools:
        errors.append(FieldError("tool_choice", "tool_choice is only allowed when tools are given"))
    elif isinstance(body.tool_choice, NamedToolChoice) and body.tool_choice.function.name not in names:
        errors.append(FieldError("tool_choice.function.name", "no tool of this request has this name"))
    if body.parallel_tool_calls is not None and not body.tools:
        errors.append(FieldError("parallel_tool_calls", "parallel_tool_calls is only allowed when tools are given"))
    response_format = body.response_format
    if response_format is not None and response_format.type == "json_schema" and response_format.json_schema is None:
        errors.append(FieldError("response_format.json_schema", "required when type is json_schema"))
    if body.n is not None and body.n > 1:
        errors.append(FieldError("n", "only one choice per request is supported (n=1)"))
    if body.logprobs:
        errors.append(FieldError("logprobs", "log probabilities are not supported"))
    for index, message in enumerate(body.messages):
        if message.role == "tool" and message.tool_call_id is None:
            errors.append(FieldError(f"messages[{index}].tool_call_id", "a tool message answers a call by its id"))
        if message.tool_calls and message.role != "assistant":
            errors.append(FieldError(f"messages[{index}].tool_calls", "only an assistant message calls tools"))
    return errors


def _messages(body: CompletionRequest) -> tuple[Message, ...]:
    result = []
    for message in body.messages:
        if message.role == "tool":
            result.append(Message.tool(message.tool_call_id or "", message.text()))
        elif message.role == "assistant":
            calls = tuple(
                ToolCall.from_raw(call.id, call.function.name, call.function.arguments)
                for call in message.tool_calls or ()
            )
            result.append(Message.assistant(message.text(), calls))
        else:
            result.append(
                Message(role="system" if message.role == "developer" else message.role, content=message.text())
            )
    return tuple(result)
