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

from smarter.apps.account import pricing
from smarter.apps.chat.providers.factory import platform_default_model
from smarter.apps.chat.upstreams import platform_provider_name
from smarter.apps.chatbot.selectors import chatbot_get, provider_get
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
MAX_JUDGE_SAMPLES = 10
ScorerName = Literal["exact", "contains", "regex", "tools", "similarity", "bleu", "chrf", "rouge", "judge"]
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
    rubric: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = Field(
        None, description="what the judge checks in this case, beside the suite's rubric"
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


class JudgeSpec(CamelModel):
    """The model that scores answers against a rubric (scorer `judge`), asked `samples` times."""

    provider: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = Field(
        None, description="openai or a Provider of your account; default: the platform's provider"
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="default: the provider's default model"
    )
    rubric: Annotated[str, StringConstraints(min_length=1, max_length=4000)] = Field(
        description="what a good answer is, in words the judge scores against"
    )
    samples: int = Field(3, ge=1, le=MAX_JUDGE_SAMPLES, description="judge calls per answer; the score is their mean")
    scale: Literal["0-1", "1-5"] = Field("0-1", description="the score the judge gives; 1-5 is mapped onto 0-1")
    temperature: float | None = Field(None, ge=0, le=2, description="default: the provider's, which samples")


class TestSuiteSpec(CamelModel):
    __test__ = False

    chatbot: ResourceName = Field(description="a Chatbot of your account")
    threshold: float = Field(0.8, ge=0, le=1, description="the share of cases that must pass")
    judge: JudgeSpec | None = Field(None, description="the model behind the judge scorer")
    cases: list[CaseSpec] = Field(min_length=1, max_length=MAX_CASES)

    @model_validator(mode="after")
    def _unique_names(self) -> TestSuiteSpec:
        seen: set[str] = set()
        for case in self.cases:
            if case.name in seen:
                raise ValueError(f"two cases are named {case.name!r}")
            seen.add(case.name)
        return self

    @model_validator(mode="after")
    def _judged_cases_have_a_judge(self) -> TestSuiteSpec:
        if self.judge is None:
            unjudged = next((case.name for case in self.cases if "judge" in case.scorers), None)
            if unjudged is not None:
                raise ValueError(f"the case {unjudged!r} names the judge scorer: give the suite a judge")
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
        judge = self._judge(caller, manifest) if spec.judge is not None else {}
        return {
            **self.metadata_fields(manifest),
            "chatbot": chatbot,
            "threshold": spec.threshold,
            "judge": judge,
            "cases": cases,
        }

    def _judge(self, caller: Caller, manifest: Any) -> dict[str, Any]:
        """The judge section as stored. Its provider is looked up in the caller's account only
        (another account's is as unknown as a name nobody has), and the platform's key judges
        only with a priced model, as a turn on it does."""
        judge: JudgeSpec = manifest.spec.judge
        name = judge.provider or platform_provider_name()
        problem: FieldError | None = None
        if name == "offline":
            problem = FieldError("spec.judge.provider", "the offline model cannot judge: name openai or a Provider")
        elif name == "openai":
            model = judge.model or platform_default_model()
            if not pricing.is_priced(provider="openai", model=model):
                loc = "spec.judge.model" if judge.model else "spec.judge"
                problem = FieldError(loc, f"model {model!r} has no price on this platform")
        elif provider_get(account=caller.account, name=name) is None:
            problem = FieldError(
                "spec.judge.provider", f"must be openai or a Provider of your account; {name!r} is none"
            )
        if problem is not None:
            raise self.invalid(manifest.metadata.name, [problem])
        return judge.model_dump(by_alias=True, mode="json", exclude_none=True)

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
            "judge": JudgeSpec.model_validate(row.judge) if row.judge else None,
            "cases": [CaseSpec.model_validate(case) for case in row.cases],
        }

    def status_of(self, row: TestSuite) -> dict[str, Any]:
        return selectors.test_suite_status(row)


def register_kinds() -> None:
    register(TestSuiteBroker())
