"""Runs, results and comparisons as the API, the CLI and the console show them."""

from __future__ import annotations

import statistics
from typing import Any

from smarter.apps.evaluation.models import EvalResult, EvalRun
from smarter.apps.evaluation.scorers.judge import spread_of


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def run_item(run: EvalRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "passRate": run.pass_rate,
        "score": run.score,
        "threshold": run.threshold,
        "cases": run.cases,
        "completed": run.completed,
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "repeat": run.repeat,
        "suiteVersion": run.suite_version.number,
        "chatbot": run.chatbot.name,
        "chatbotVersion": run.chatbot_version,
        "configHash": run.config_hash or None,
        "provider": run.provider or None,
        "model": run.model or None,
        "temperature": run.temperature,
        "createdAt": _when(run.created_at),
        "startedAt": _when(run.started_at),
        "finishedAt": _when(run.finished_at),
    }


def result_item(result: EvalResult) -> dict[str, Any]:
    return {
        "id": result.pk,
        "case": result.case,
        "attempt": result.attempt,
        "passed": result.passed,
        "score": result.score,
        "scores": result.scores,
        "details": result.details,
        # A sampling scorer (the judge): each sample, and their standard deviation.
        "samples": result.samples,
        "spread": {scorer: round(spread_of(values), 6) for scorer, values in result.samples.items()},
        "answer": result.answer,
        "toolCalls": result.tool_calls,
        "error": result.error or None,
        "latencyMs": result.latency_ms,
        "tokens": result.tokens,
        "reviews": [
            {
                "rating": review.rating,
                "note": review.note,
                "reviewer": review.reviewer.get_username() if review.reviewer else None,
            }
            for review in result.reviews.all()
        ],
    }


def run_detail(run: EvalRun, results: list[EvalResult]) -> dict[str, Any]:
    return {**run_item(run), "results": [result_item(result) for result in results]}


def _case_outcomes(results: list[EvalResult]) -> dict[str, dict[str, Any]]:
    """Each case's outcome over its attempts: errored if any errored, passed if all passed."""
    by_case: dict[str, list[EvalResult]] = {}
    for result in results:
        by_case.setdefault(result.case, []).append(result)
    outcomes = {}
    for case, attempts in by_case.items():
        errored = any(attempt.passed is None for attempt in attempts)
        scores = [attempt.score for attempt in attempts if attempt.score is not None]
        outcomes[case] = {
            "passed": None if errored else all(attempt.passed for attempt in attempts),
            "score": round(statistics.fmean(scores), 6) if scores and not errored else None,
        }
    return outcomes


def comparison(
    base: EvalRun, base_results: list[EvalResult], head: EvalRun, head_results: list[EvalResult]
) -> dict[str, Any]:
    """Per case, base against head; a regression is a case that passed in base and does not in
    head (failed or errored), an improvement the reverse."""
    before, after = _case_outcomes(base_results), _case_outcomes(head_results)
    names = list(dict.fromkeys([result.case for result in base_results] + [result.case for result in head_results]))
    cases = []
    for name in names:
        old, new = before.get(name), after.get(name)
        delta = None
        if old and new and old["score"] is not None and new["score"] is not None:
            delta = round(new["score"] - old["score"], 6)
        cases.append(
            {
                "case": name,
                "base": old,
                "head": new,
                "scoreDelta": delta,
                "regression": bool(old and old["passed"] and (new is None or new["passed"] is not True)),
                "improvement": bool(new and new["passed"] and (old is None or old["passed"] is not True)),
            }
        )
    return {
        "base": run_item(base),
        "head": run_item(head),
        "cases": cases,
        "regressions": [case["case"] for case in cases if case["regression"]],
        "improvements": [case["case"] for case in cases if case["improvement"]],
    }
