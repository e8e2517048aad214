"""Evaluation suites in the console: the account's suites with their last run, one run's results
(all, or only what failed or errored), each result reviewable, and two runs compared beside the
pass rate of the suite's recent runs.

Members and admins alike run, cancel, retry and review, as through the API. Every write is an
evaluation service, counted against the same per-user budget as the API's and journaled under
the API's command names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.charts import bar_chart
from smarter.apps.dashboard.journaling import journal_as, journaled
from smarter.apps.dashboard.selectors import recent_runs, test_suites_with_last_run
from smarter.apps.evaluation import presenters, selectors, services
from smarter.apps.evaluation.models import FINISHED, EvalResult, EvalRun, Rating, RunStatus, TestSuite
from smarter.lib.errors import NotFound, SmarterError

# Runs the comparison page offers and charts: enough to see a trend, few enough to read.
RUNS_SHOWN = 30


def _suite(request: HttpRequest, name: str) -> TestSuite:
    suite = selectors.test_suite_get(account=caller_of(request).account, name=name)
    if suite is None:
        raise NotFound(f"TestSuite {name!r} was not found.")
    return suite


def _run(request: HttpRequest, suite: TestSuite, run_id: int) -> EvalRun:
    run = selectors.run_get(account=caller_of(request).account, suite=suite, run_id=run_id)
    if run is None:
        raise NotFound(f"Run {run_id} of suite {suite.name!r} was not found.")
    return run


def _refused(request: HttpRequest, error: SmarterError, title: str) -> HttpResponse:
    context = {"status": error.status, "title": title, "message": error.description}
    response = page(request, "dashboard/error.html", context, status=error.status)
    for header, value in error.headers.items():
        response[header] = value
    return response


# --- suites -----------------------------------------------------------------------------------
@require_GET
@console_page()
def suite_list(request: HttpRequest) -> HttpResponse:
    rows = test_suites_with_last_run(caller_of(request).account)
    return page(request, "dashboard/evals.html", {"rows": rows})


@require_POST
@journaled("eval", "TestSuite")
@console_page()
def run_start(request: HttpRequest, name: str) -> HttpResponse:
    """The suite's "Run": its current version against the chatbot's current version."""
    caller = caller_of(request)
    suite = _suite(request, name)
    try:
        services.eval_request_admit(caller=caller)
        run = services.eval_run_start(account=caller.account, suite=suite, user=caller.user)
    except SmarterError as error:
        return _refused(request, error, "The run did not start")
    journal_as(request, f"{suite.name}/{run.pk}")
    return redirect("dashboard:eval_run", name=suite.name, run_id=run.pk)


# --- one run ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScorerLine:
    name: str
    score: float | None
    detail: str


@dataclass(frozen=True)
class ResultRow:
    """One attempt at one case as the run's table shows it, with the viewer's own review."""

    result: EvalResult
    scorers: list[ScorerLine]
    tool_calls: list[tuple[str, str]]
    reviews: list[dict[str, Any]]
    my_rating: str
    my_note: str


def _result_row(result: EvalResult, viewer_id: int) -> ResultRow:
    names = list(dict.fromkeys([*result.scores, *result.details]))
    scorers = [ScorerLine(name, result.scores.get(name), str(result.details.get(name) or "")) for name in names]
    calls = [
        (str(call.get("name", "")), json.dumps(call.get("arguments", {}), ensure_ascii=False, sort_keys=True))
        for call in result.tool_calls
    ]
    reviews = list(result.reviews.all())
    mine = next((review for review in reviews if review.reviewer_id == viewer_id), None)
    shown = [
        {
            "reviewer": review.reviewer.get_username() if review.reviewer else "—",
            "rating": review.rating,
            "note": review.note,
        }
        for review in reviews
    ]
    return ResultRow(result, scorers, calls, shown, mine.rating if mine else "", mine.note if mine else "")


def _show(request: HttpRequest) -> str:
    """The table's filter: every result, or the failed and errored ones."""
    return "failures" if (request.GET.get("show") or request.POST.get("show")) == "failures" else "all"


def _run_page(
    request: HttpRequest, suite: TestSuite, run: EvalRun, *, error: str = "", status: int = 200
) -> HttpResponse:
    show = _show(request)
    results = selectors.results_of(run).prefetch_related("reviews__reviewer")
    if show == "failures":
        results = results.exclude(passed=True)  # failed (False) and errored (None)
    viewer = caller_of(request).user
    context = {
        "suite": suite,
        "run": run,
        "show": show,
        "rows": [_result_row(result, int(viewer.pk or 0)) for result in results],
        "ratings": Rating.choices,
        "finished": run.status in FINISHED,
        "can_cancel": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
        "can_retry": run.status in FINISHED and run.errors > 0,
        "error": error,
    }
    return page(request, "dashboard/eval_run.html", context, status=status)


def _back_to_run(request: HttpRequest, suite: TestSuite, run: EvalRun, anchor: str = "") -> HttpResponse:
    url = reverse("dashboard:eval_run", kwargs={"name": suite.name, "run_id": run.pk})
    if _show(request) == "failures":
        url += "?" + urlencode({"show": "failures"})
    return redirect(url + (f"#{anchor}" if anchor else ""))


@require_GET
@console_page()
def run_detail(request: HttpRequest, name: str, run_id: int) -> HttpResponse:
    suite = _suite(request, name)
    return _run_page(request, suite, _run(request, suite, run_id))


def _act_on_run(request: HttpRequest, name: str, run_id: int, act: Callable[..., Any]) -> HttpResponse:
    """Cancel or retry: admitted like the API's, journaled as `suite/run`, back to the run page."""
    suite = _suite(request, name)
    run = _run(request, suite, run_id)
    journal_as(request, f"{suite.name}/{run.pk}")
    try:
        services.eval_request_admit(caller=caller_of(request))
        act(run=run)
    except SmarterError as error:
        return _run_page(request, suite, run, error=error.description, status=error.status)
    return _back_to_run(request, suite, run)


@require_POST
@journaled("eval_cancel", "TestSuite")
@console_page()
def run_cancel(request: HttpRequest, name: str, run_id: int) -> HttpResponse:
    return _act_on_run(request, name, run_id, services.eval_run_cancel)


@require_POST
@journaled("eval_retry", "TestSuite")
@console_page()
def run_retry(request: HttpRequest, name: str, run_id: int) -> HttpResponse:
    return _act_on_run(request, name, run_id, services.eval_run_retry)


@require_POST
@journaled("eval_review", "TestSuite")
@console_page()
def result_review(request: HttpRequest, name: str, run_id: int, result_id: int) -> HttpResponse:
    caller = caller_of(request)
    suite = _suite(request, name)
    run = _run(request, suite, run_id)
    result = selectors.result_get(account=caller.account, run=run, result_id=result_id)
    if result is None:
        raise NotFound(f"Result {result_id} of run {run.pk} was not found.")
    journal_as(request, f"{suite.name}/{run.pk}/{result.pk}")
    try:
        services.eval_result_review(
            result=result,
            reviewer=caller.user,
            rating=request.POST.get("rating", ""),
            note=request.POST.get("note", ""),
        )
    except SmarterError as error:
        return _run_page(request, suite, run, error=error.description, status=error.status)
    return _back_to_run(request, suite, run, anchor=f"result-{result.pk}")


# --- two runs compared ------------------------------------------------------------------------
def _chosen(request: HttpRequest, suite: TestSuite, key: str, default: EvalRun | None) -> EvalRun | None:
    value = request.GET.get(key, "")
    if value.isdigit() and len(value) <= 18:
        return _run(request, suite, int(value))
    return default


@require_GET
@console_page()
def run_compare(request: HttpRequest, name: str) -> HttpResponse:
    """Base against head, case by case (by default the newest run against the one before), and
    the pass rate of the suite's recent finished runs, oldest first, against its threshold."""
    suite = _suite(request, name)
    runs = recent_runs(caller_of(request).account, suite, RUNS_SHOWN)
    head = _chosen(request, suite, "head", runs[0] if runs else None)
    base = _chosen(request, suite, "base", runs[1] if len(runs) > 1 else None)
    comparison = None
    if base is not None and head is not None:
        comparison = presenters.comparison(
            base, list(selectors.results_of(base)), head, list(selectors.results_of(head))
        )
    charted = [run for run in reversed(runs) if run.status in FINISHED and run.pass_rate is not None]
    chart = bar_chart(
        [(f"#{run.pk}", run.pass_rate * 100) for run in charted],  # type: ignore[operator]
        unit="%",
        ceiling=100,
        line=suite.threshold * 100,
    )
    context = {
        "suite": suite,
        "runs": runs,
        "base": base,
        "head": head,
        "comparison": comparison,
        "chart": chart,
    }
    return page(request, "dashboard/eval_compare.html", context)
