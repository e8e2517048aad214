"""The envelope every manifest shares, as Pydantic models, and their errors as field paths."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, create_model
from pydantic.alias_generators import to_camel

from smarter.lib.errors import FieldError

API_VERSION: Final = "smarter.sh/v1"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SEMVER_PATTERN = r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$"

ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=50)]


class CamelModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error, not ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


class Metadata(CamelModel):
    name: ResourceName = Field(description="snake_case, at most 50 characters; unique per kind and account")
    description: str = Field("", max_length=2000)
    version: Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)] = "0.1.0"
    tags: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=50)
    annotations: list[dict[str, Annotated[str, StringConstraints(max_length=2048)]]] = Field(
        default_factory=list, max_length=50
    )


class Manifest(CamelModel):
    """Base of every kind: subclasses narrow `kind` to a Literal and give `spec` its model."""

    api_version: Literal["smarter.sh/v1"] = Field(API_VERSION, alias="apiVersion")
    kind: str
    metadata: Metadata
    spec: Any
    # Read-only: filled by describe, accepted and ignored on apply so describe output re-applies.
    status: dict[str, Any] | None = None


def section_manifest(kind: str, section: str, model: type[CamelModel], *, optional: bool = False) -> type[Manifest]:
    """The manifest of a kind whose spec is one section, `spec.<section>` of `model`: the models
    `<kind>Spec` and `<kind>Manifest`, as the JSON Schema names them. `optional`: the section and
    the spec may be left out (every field of `model` has a default)."""
    section_field: Any = (model, Field(default_factory=model)) if optional else (model, ...)
    spec = create_model(f"{kind}Spec", __base__=CamelModel, __module__=model.__module__, **{section: section_field})
    spec_field: Any = (spec, Field(default_factory=spec)) if optional else (spec, ...)
    return create_model(
        f"{kind}Manifest",
        __base__=Manifest,
        __module__=model.__module__,
        kind=(Literal[kind], kind),  # type: ignore[arg-type]
        spec=spec_field,
    )


def format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic's errors as `loc`/`msg` pairs; `loc` uses the manifest's own (camelCase) names."""
    result = []
    for item in error.errors(include_url=False):
        loc = format_loc(tuple(item["loc"]))
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        result.append(FieldError(loc=loc or "(root)", msg=message))
    return result
