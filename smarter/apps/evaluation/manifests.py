"""Kind `TestSuite` and its broker.

A suite names a chatbot of the account, the share of cases that must pass (`threshold`), and
its cases. Each case asks one prompt or several turns of one conversation, and states what a
good answer is: an `expected` answer (for the graded scorers, or a pattern for `regex`), phrases
it must or must not contain, plugins it must or must not call (with argument matchers), the
scorers to run (`scorers.default_scorers` when none are named) and the score a graded scorer
needs (`minScore`). Every change of the spec is a new version of the suite; a run pins one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from pydantic import Field, StringConstraints, model_validator

from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.evaluation import selectors, services
from smarter.apps.evaluation.models import TestSuite
from smarter.apps.evaluation.scorers import DEFAULT_MIN_SCORE, SCORERS
from smarter.apps.evaluation.scorers.text import pattern_error
from smarter.apps.evaluation.scorers.tools import MATCHER_KEYS
from smarter.lib.errors import FieldError
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, RowServices, register
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName
from smarter.lib.manifests.model_broker import Written

MAX_CASES = 500
MAX_TURNS = 20
ScorerName = Literal["exact", "contains", "regex", "tools", "similarity", "bleu", "chrf", "rouge"]
Phrase = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Prompt = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class PluginExpectationSpec(CamelModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the plugin (or built-in function) the turn must call"
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description='argument name → a value it must equal, {"contains": "text"} or {"regex": "pattern"}',
    )

    @model_validator(mode="after")
    def _matchers(self) -> PluginExpectationSpec:
        for name, matcher in self.arguments.items():
            if isinstance(matcher, dict) and len(matcher) == 1 and next(iter(matcher)) == "regex":
                problem = pattern_error(str(matcher["regex"]))
                if problem:
                    raise ValueError(f"arguments.{name}.regex is not a valid regular expression: {problem}")
            elif isinstance(matcher, dict) and set(matcher) - set(MATCHER_KEYS):
                keys = ", ".join(MATCHER_KEYS)
                raise ValueError(f"arguments.{name}: an object matcher has one key of {keys}")
        return self


class CaseSpec(CamelModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    prompt: Prompt | None = Field(None, description="the question (or give turns)")
    turns: list[Prompt] = Field(
        default_factory=list,
        max_length=MAX_TURNS,
        description="several prompts of one conversation; the last is scored",
    )
    expected: Annotated[str, StringConstraints(max_length=20_000)] | None = Field(
        None, description="the expected answer (a pattern for the regex scorer)"
    )
    must_contain: list[Phrase] = Field(default_factory=list, max_length=50)
    must_not_contain: list[Phrase] = Field(default_factory=list, max_length=50)
    case_sensitive: bool = Field(False, description="mustContain and mustNotContain compare case and spacing")
    expect_plugins: list[PluginExpectationSpec] = Field(default_factory=list, max_length=20)
    forbid_plugins: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    scorers: list[ScorerName] = Field(
        default_factory=list, description="default: what the case's expectations call for"
    )
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, le=1, description="what a graded scorer must reach")
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20
    )

    @model_validator(mode="after")
    def _asks_and_expects(self) -> CaseSpec:
        if (self.prompt is None) == (not self.turns):
            raise ValueError("a case gives either prompt or turns")
        if self.scorers:
            unmet = [name for name in self.scorers if SCORERS[name].needs_expected and self.expected is None]
            if unmet:
                raise ValueError(f"the scorer {unmet[0]} needs expected")
        elif not (
            self.expected is not None
            or self.must_contain
            or self.must_not_contain
            or self.expect_plugins
            or self.forbid_plugins
        ):
            raise ValueError("a case states what a good answer is: expected, mustContain, expectPlugins...")
        if "regex" in self.scorers and self.expected is not None:
            problem = pattern_error(self.expected)
            if problem:
                raise ValueError(f"expected is not a valid regular expression for the regex scorer: {problem}")
        return self


class TestSuiteSpec(CamelModel):
    __test__ = False

    chatbot: ResourceName = Field(description="a Chatbot of your account")
    threshold: float = Field(0.8, ge=0, le=1, description="the share of cases that must pass")
    cases: list[CaseSpec] = Field(min_length=1, max_length=MAX_CASES)

    @model_validator(mode="after")
    def _unique_names(self) -> TestSuiteSpec:
        seen: set[str] = set()
        for case in self.cases:
            if case.name in seen:
                raise ValueError(f"two cases are named {case.name!r}")
            seen.add(case.name)
        return self


class TestSuiteManifest(Manifest):
    __test__ = False

    kind: Literal["TestSuite"] = "TestSuite"
    spec: TestSuiteSpec


class TestSuiteBroker(ModelBroker[TestSuite]):
    __test__ = False

    kind = "TestSuite"
    aliases = ("Suite", "Eval")
    manifest_model = TestSuiteManifest
    write_role = "member"  # prompt engineers keep their suites
    columns = (
        Column("name"),
        Column("chatbot", source=lambda suite: suite.chatbot.name),
        Column("cases", "integer", source=lambda suite: len(suite.cases)),
        Column("threshold", "number"),
    )
    writes = RowServices(services, "test_suite")

    def rows(self, caller: Caller) -> QuerySet[TestSuite]:
        return selectors.test_suites_of(caller.account)

    def fields_of(self, caller: Caller, manifest: Any, row: TestSuite | None) -> dict[str, Any]:
        spec = manifest.spec
        chatbot = chatbot_get(account=caller.account, name=spec.chatbot)
        if chatbot is None:
            error = FieldError("spec.chatbot", f"no Chatbot named {spec.chatbot!r} in your account")
            raise self.invalid(manifest.metadata.name, [error])
        cases = [case.model_dump(by_alias=True, mode="json") for case in spec.cases]
        return {**self.metadata_fields(manifest), "chatbot": chatbot, "threshold": spec.threshold, "cases": cases}

    def write(self, caller: Caller, name: str, row: TestSuite | None, fields: dict[str, Any]) -> Written[TestSuite]:
        if row is None:
            return Written(
                "created", services.test_suite_create(account=caller.account, name=name, user=caller.user, **fields)
            )
        changed = services.test_suite_update(test_suite=row, user=caller.user, **fields)
        return Written("updated" if changed else "unchanged", row)

    def spec_values(self, row: TestSuite) -> dict[str, Any]:
        return {
            "chatbot": row.chatbot.name,
            "threshold": row.threshold,
            "cases": [CaseSpec.model_validate(case) for case in row.cases],
        }

    def status_of(self, row: TestSuite) -> dict[str, Any]:
        return selectors.test_suite_status(row)


def register_kinds() -> None:
    register(TestSuiteBroker())
