"""Running a suite: each case asked through the one turn pipeline, as a door would, then scored.

A run asks its cases `repeat` times each, at most SMARTER_EVALUATION_CONCURRENCY at once. Each attempt is a
new conversation on the `evaluation` channel (billed and counted in usage like any other turn,
and marked as evaluation traffic there). A case of several turns asks them in order in one
conversation and scores the last answer. An attempt the pipeline refuses for the rate limit
waits as told and asks again; any other failure (the upstream down or too slow, the budget
spent) makes the attempt an error, which is never scored as 0; so does a judge that cannot give
a score (`judging`). A cancelled run starts no new attempt. Re-running a run asks only the
attempts it has no result for, so a retried or redelivered run never asks a case twice.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from smarter.apps.chat.pipeline import run_turn
from smarter.apps.chat.turns import TurnInput, TurnOverrides, TurnResult
from smarter.apps.chatbot.models import ChatbotVersion
from smarter.apps.evaluation.judging import Judge, judge_of
from smarter.apps.evaluation.models import FINISHED, EvalResult, EvalRun, RunStatus
from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, PluginExpectation, Score, ToolCallMade
from smarter.apps.evaluation.scorers import ScoringContext, default_scorers, passes, score_answer
from smarter.lib.errors import RateLimited, SmarterError

log = logging.getLogger(__name__)

RATE_LIMIT_WAITS = 6
LONGEST_WAIT_SECONDS = 60.0
LOCAL_EMBEDDING = {"provider": "local"}


def expectation_of(case: dict[str, Any]) -> CaseExpectation:
    return CaseExpectation(
        expected=case.get("expected"),
        must_contain=tuple(case.get("mustContain") or ()),
        must_not_contain=tuple(case.get("mustNotContain") or ()),
        exact_case=bool(case.get("caseSensitive")),
        expect_plugins=tuple(
            PluginExpectation(item["name"], dict(item.get("arguments") or {}))
            for item in case.get("expectPlugins") or ()
        ),
        forbid_plugins=tuple(case.get("forbidPlugins") or ()),
    )


def prompts_of(case: dict[str, Any]) -> list[str]:
    return list(case.get("turns") or [case["prompt"]])


def overrides_of(run: EvalRun) -> TurnOverrides:
    """The run's pins as the turn's overrides: an earlier chatbot version's prompt, model,
    temperature, length and plugins (the chatbot itself is not changed), and the run's own
    model and temperature over those."""
    values: dict[str, Any] = {}
    latest = ChatbotVersion.objects.filter(chatbot=run.chatbot).order_by("-number").values_list("number", flat=True)
    current = latest.first()
    if run.chatbot_version is not None and run.chatbot_version != current:
        spec = ChatbotVersion.objects.get(chatbot=run.chatbot, number=run.chatbot_version).spec
        config = spec.get("config", {})
        values = {
            "system_role": config.get("defaultSystemRole"),
            "model": config.get("defaultModel") or None,
            "temperature": config.get("defaultTemperature"),
            "max_tokens": config.get("defaultMaxTokens"),
            "plugins": tuple(spec.get("plugins") or ()),
        }
    if run.model:
        values["model"] = run.model
    if run.temperature is not None:
        values["temperature"] = run.temperature
    return TurnOverrides(**values)


def run_evaluation(run_id: int) -> str | None:
    """Ask and score every attempt the run lacks, then settle its status; the status (None when
    the run is gone)."""
    run = EvalRun.objects.select_related("account", "chatbot", "suite_version", "created_by").filter(pk=run_id).first()
    if run is None:
        return None
    if run.status in FINISHED:
        return str(run.status)
    EvalRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=run.started_at or timezone.now())
    cases = run.suite_version.spec["cases"]
    done = set(EvalResult.objects.filter(run=run).values_list("position", "attempt"))
    pending = [
        (position, attempt)
        for position in range(len(cases))
        for attempt in range(1, run.repeat + 1)
        if (position, attempt) not in done
    ]
    async_to_sync(_ask_all)(run, cases, pending, overrides_of(run), judge_of(run))
    return settle(run.pk)


def cases_at_once() -> int:
    """`SMARTER_EVALUATION_CONCURRENCY`, except on SQLite (the embedded default): one case at a
    time there. SQLite lets one connection write at a time, and a turn's writes come from more
    than one thread (the billing task runs in the web process there), so concurrent cases made
    each other fail with "database is locked"."""
    if connection.vendor == "sqlite":
        return 1
    return int(settings.SMARTER.evaluation_concurrency)


async def _ask_all(
    run: EvalRun,
    cases: list[dict[str, Any]],
    pending: list[tuple[int, int]],
    overrides: TurnOverrides,
    judge: Judge | SmarterError | None,
) -> None:
    gate = asyncio.Semaphore(cases_at_once())

    async def ask(position: int, attempt: int) -> None:
        async with gate:
            if await _cancel_requested(run.pk):
                return
            await _attempt(run, cases[position], position, attempt, overrides, judge)

    await asyncio.gather(*(ask(position, attempt) for position, attempt in pending))


@sync_to_async
def _cancel_requested(run_id: int) -> bool:
    return bool(EvalRun.objects.filter(pk=run_id, cancel_requested=True).exists())


async def _turn(turn: TurnInput) -> TurnResult:
    """One turn; a rate-limit refusal (nothing ran) waits as told and asks again."""
    for _ in range(RATE_LIMIT_WAITS):
        try:
            return await run_turn(turn)
        except RateLimited as refused:
            wait = float(refused.headers.get("Retry-After", "1") or 1)
            await asyncio.sleep(min(max(wait, 0.5), LONGEST_WAIT_SECONDS))
    return await run_turn(turn)


async def _converse(run: EvalRun, case: dict[str, Any], overrides: TurnOverrides) -> tuple[TurnResult, float, int]:
    """The case's turns in one new conversation: the last answer, the time and tokens of all."""
    session_key: str | None = None
    seconds = 0.0
    tokens = 0
    result: TurnResult | None = None
    for prompt in prompts_of(case):
        result = await _turn(
            TurnInput(
                account=run.account,
                chatbot=run.chatbot,
                channel="evaluation",
                prompt=prompt,
                session_key=session_key,
                new_session=session_key is None,
                user=run.created_by,
                overrides=overrides,
            )
        )
        session_key = result.session_key
        seconds += result.latency_ms
        tokens += result.usage.total_tokens
    assert result is not None  # a case has at least one prompt (the manifest's rule)
    return result, seconds, tokens


def _answer_of(result: TurnResult) -> CaseAnswer:
    calls = tuple(ToolCallMade(call.plugin or call.tool, dict(call.arguments)) for call in result.tool_calls)
    return CaseAnswer(text=result.content, tool_calls=calls)


async def _attempt(
    run: EvalRun,
    case: dict[str, Any],
    position: int,
    attempt: int,
    overrides: TurnOverrides,
    judge: Judge | SmarterError | None,
) -> None:
    started = time.perf_counter()
    try:
        result, latency_ms, tokens = await _converse(run, case, overrides)
    except SmarterError as error:
        await _save(
            run,
            case,
            position,
            attempt,
            error=f"{error.status} {error.description}"[:2000],
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return
    except Exception:  # an attempt's failure must not stop the other cases
        log.exception("evaluation attempt failed", extra={"run": run.pk, "case": case.get("name")})
        await _save(
            run,
            case,
            position,
            attempt,
            error="500 The turn failed inside the platform.",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return
    answer = _answer_of(result)
    expectation = expectation_of(case)
    names = case.get("scorers") or default_scorers(expectation)
    judged: Score | None = None
    if "judge" in names:
        try:
            judged = await _judged(judge, case, answer, expectation, result.session_key)
        except SmarterError as error:
            await _save(
                run,
                case,
                position,
                attempt,
                answer=answer,
                error=f"{error.status} {error.description}"[:2000],
                latency_ms=latency_ms,
                tokens=tokens,
                session_key=result.session_key,
            )
            return
    context = ScoringContext(account_id=run.account_id, embedding=LOCAL_EMBEDDING, judged=judged)
    try:
        scores = await sync_to_async(score_answer, thread_sensitive=False)(answer, expectation, names, context)
    except Exception as error:  # a scorer's model failing is an error, not a 0
        log.exception("evaluation scoring failed", extra={"run": run.pk, "case": case.get("name")})
        await _save(run, case, position, attempt, error=f"500 A scorer failed: {error}"[:2000], latency_ms=latency_ms)
        return
    await _save(
        run,
        case,
        position,
        attempt,
        answer=answer,
        scores=scores,
        latency_ms=latency_ms,
        tokens=tokens,
        session_key=result.session_key,
        provider=result.provider,
        model=result.model,
    )


async def _judged(
    judge: Judge | SmarterError | None,
    case: dict[str, Any],
    answer: CaseAnswer,
    expectation: CaseExpectation,
    session_key: str,
) -> Score:
    if judge is None:  # the manifest refuses a judged case without a judge; an old version may have one
        raise SmarterError("The case names the judge scorer but its suite has no judge.")
    if isinstance(judge, SmarterError):
        raise judge
    return await judge.score(
        case=case, prompts=prompts_of(case), answer=answer, expectation=expectation, session_key=session_key
    )


@sync_to_async
def _save(
    run: EvalRun,
    case: dict[str, Any],
    position: int,
    attempt: int,
    *,
    answer: CaseAnswer | None = None,
    scores: list[Score] | None = None,
    error: str = "",
    latency_ms: float | None = None,
    tokens: int = 0,
    session_key: str = "",
    provider: str = "",
    model: str = "",
) -> None:
    min_score = float(case.get("minScore", 0.5))
    values = [score.value for score in scores or ()]
    EvalResult.objects.update_or_create(
        run=run,
        position=position,
        attempt=attempt,
        defaults={
            "case": case["name"],
            "passed": None if error else all(passes(score, min_score) for score in scores or ()),
            "score": None if error or not values else round(statistics.fmean(values), 6),
            "scores": {score.scorer: score.value for score in scores or ()},
            "details": {score.scorer: score.detail for score in scores or () if score.detail},
            "samples": {score.scorer: list(score.samples) for score in scores or () if score.samples},
            "answer": answer.text if answer else "",
            "tool_calls": [{"name": call.name, "arguments": call.arguments} for call in answer.tool_calls]
            if answer
            else [],
            "error": error,
            "latency_ms": round(latency_ms, 2) if latency_ms is not None else None,
            "tokens": tokens,
            "session_key": session_key,
        },
    )
    EvalRun.objects.filter(pk=run.pk).update(completed=F("completed") + 1)
    if provider:
        EvalRun.objects.filter(pk=run.pk, provider="").update(provider=provider)
        EvalRun.objects.filter(pk=run.pk, model="").update(model=model)


def settle(run_id: int) -> str:
    """Count the run's cases and set its status: cancelled when asked to stop; error when any
    attempt errored; else passed or failed by its pass rate against the suite's threshold."""
    run = EvalRun.objects.get(pk=run_id)
    by_case: dict[int, list[EvalResult]] = {}
    for result in EvalResult.objects.filter(run=run):
        by_case.setdefault(result.position, []).append(result)
    errors = sum(1 for results in by_case.values() if any(result.passed is None for result in results))
    passed = sum(
        1 for results in by_case.values() if len(results) == run.repeat and all(result.passed for result in results)
    )
    scored = [results for results in by_case.values() if all(result.passed is not None for result in results)]
    failed = len(scored) - passed
    case_scores = [statistics.fmean(result.score or 0.0 for result in results) for results in scored]
    pass_rate = round(passed / len(scored), 6) if scored else None
    if run.cancel_requested:
        status = RunStatus.CANCELLED
    elif errors or len(by_case) < run.cases:
        status = RunStatus.ERROR
    elif pass_rate is not None and pass_rate >= run.threshold:
        status = RunStatus.PASSED
    else:
        status = RunStatus.FAILED
    EvalRun.objects.filter(pk=run_id).update(
        status=status,
        passed=passed,
        failed=failed,
        errors=errors,
        pass_rate=pass_rate,
        score=round(statistics.fmean(case_scores), 6) if case_scores else None,
        finished_at=timezone.now(),
    )
    return str(status)
