"""Pieces the plugin kinds share: metadata with pluginClass, selector, prompt overlay, parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Metadata, field_errors

Directive = Literal["always", "search_terms", "llm"]
ParameterType = Literal["string", "number", "integer", "boolean", "array", "object"]
PARAMETER_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
SearchTerm = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PluginMetadata(Metadata):
    plugin_class: Literal["static", "sql", "api", "knowledge"] | None = Field(
        None,
        description="static (kind Plugin), sql (kind SqlPlugin), api (kind ApiPlugin) "
        "or knowledge (kind KnowledgePlugin)",
    )


class Selector(CamelModel):
    directive: Directive = Field(
        description="always: offered on every turn; search_terms: offered when the conversation "
        "mentions a term; llm: always offered, its prompt overlay applies only when the model calls it"
    )
    search_terms: list[SearchTerm] | None = Field(None, max_length=200)


class PromptOverlay(CamelModel):
    """Optional overlay on the chatbot's prompt while the plugin is selected."""

    provider: str | None = Field(None, max_length=50)
    system_role: str | None = Field(None, max_length=8192)
    model: str | None = Field(None, max_length=100)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0, le=1_000_000)


class Parameter(CamelModel):
    name: Annotated[str, StringConstraints(pattern=PARAMETER_NAME)]
    type: ParameterType = "string"
    description: str = Field("", max_length=1000)
    required: bool = False
    enum: list[Any] | None = Field(None, min_length=1, max_length=200)
    default: Any = None


class TestValue(CamelModel):
    name: Annotated[str, StringConstraints(pattern=PARAMETER_NAME)]
    value: Any = None


class PluginSpecBase(CamelModel):
    selector: Selector
    prompt: PromptOverlay = Field(default_factory=PromptOverlay)


def selector_problems(selector: Selector) -> list[FieldError]:
    if selector.directive == "search_terms" and not selector.search_terms:
        return [FieldError("spec.selector.searchTerms", "required when directive is search_terms")]
    if selector.directive != "search_terms" and selector.search_terms:
        return [FieldError("spec.selector.searchTerms", "only allowed when directive is search_terms")]
    return []


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def value_matches(kind: str, value: Any) -> bool:
    """Whether `value` (parsed JSON) has JSON-schema type `kind`; booleans are not numbers."""
    if value is None:
        return False
    if isinstance(value, bool) and kind != "boolean":
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _PYTHON_TYPES[kind])


def parameter_problems(parameters: list[Parameter], test_values: list[TestValue], prefix: str) -> list[FieldError]:
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, parameter in enumerate(parameters):
        loc = f"{prefix}.parameters[{index}]"
        if parameter.name in seen:
            problems.append(FieldError(f"{loc}.name", f"duplicate parameter {parameter.name!r}"))
        seen.add(parameter.name)
        for position, choice in enumerate(parameter.enum or []):
            if not value_matches(parameter.type, choice):
                problems.append(FieldError(f"{loc}.enum[{position}]", f"must be of type {parameter.type}"))
        if parameter.default is not None:
            if not value_matches(parameter.type, parameter.default):
                problems.append(FieldError(f"{loc}.default", f"must be of type {parameter.type}"))
            elif parameter.enum is not None and parameter.default not in parameter.enum:
                problems.append(FieldError(f"{loc}.default", "must be one of the enum values"))
    for index, test_value in enumerate(test_values):
        if test_value.name not in seen:
            problems.append(FieldError(f"{prefix}.testValues[{index}].name", f"{test_value.name!r} is not a parameter"))
    return problems


def pydantic_problems(error: ValidationError) -> list[FieldError]:
    """Pydantic's errors, with enum-like messages in the contract's words ("must be one of ...")."""
    problems = []
    raw = error.errors(include_url=False)
    for item, problem in zip(raw, field_errors(error), strict=True):
        if item["type"] == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            words = [word.strip(" '") for word in expected.replace(" or ", ",").split(",") if word.strip(" '")]
            problem = FieldError(problem.loc, f"must be one of {', '.join(words)}")
        problems.append(problem)
    return problems


class PluginKindErrors:
    """Mixed into the plugin app's brokers: their errors say "must be one of ..." for a choice."""

    def problems(self, error: ValidationError) -> list[FieldError]:
        return pydantic_problems(error)
