"""`/api/v1/evals/<suite>/...`: a suite's runs, their results, reviews and comparisons (API.md,
"Evaluation suites"). Parsing and shaping only; the services decide. A suite of another account
is not found (404), like one that does not exist."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pydantic import BaseModel, ConfigDict, Field
from rest_framework.request import Request
from rest_framework.response import Response

from smarter.apps.account.api.journaled import JournaledView
from smarter.apps.evaluation import presenters, selectors, services
from smarter.apps.evaluation.models import EvalResult, EvalRun, Rating, TestSuite
from smarter.lib.errors import FieldError, NotFound, ValidationFailed
from smarter.lib.http.body import parse
from smarter.lib.http.openapi import ERRORS

DOCS: dict[str, Any] = {"tags": ["evaluation"], "responses": {200: OpenApiTypes.OBJECT, **ERRORS}}


def _suite(request: Request, name: str) -> TestSuite:
    suite = selectors.test_suite_get(account=request.auth.account, name=name)
    if suite is None:
        raise NotFound(
            f"TestSuite {name!r} was not found in your account.", context={"kind": "TestSuite", "name": name}
        )
    return suite


def _run(request: Request, suite: TestSuite, run_id: Any) -> EvalRun:
    run = selectors.run_get(account=request.auth.account, suite=suite, run_id=int(run_id))
    if run is None:
        raise NotFound(
            f"Run {run_id} of suite {suite.name!r} was not found.",
            context={"kind": "EvalRun", "suite": suite.name, "id": int(run_id)},
        )
    return run


def _object_body(request: Request) -> dict[str, Any]:
    body = request.data if request.data not in (None, b"", "") else {}
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.", errors=[FieldError("(root)", "expected an object")])
    return body


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    chatbot_version: int | None = Field(None, alias="chatbotVersion", ge=1)
    model: str | None = Field(None, min_length=1, max_length=255)
    temperature: float | None = Field(None, ge=0, le=2)
    repeat: int = Field(1, ge=1, le=services.MAX_REPEAT)


class _Journaled(JournaledView):
    journal_kind = "TestSuite"


class RunsView(_Journaled):
    """`GET`: the suite's runs, newest first. `POST`: start one (202)."""

    command = "eval"

    @extend_schema(summary="A suite's runs, newest first", operation_id="eval_runs", **DOCS)
    def get(self, request: Request, name: str) -> Response:
        suite = _suite(request, name)
        runs = selectors.runs_of(account=request.auth.account, suite=suite).select_related("chatbot")[:200]
        return Response({"data": {"items": [presenters.run_item(run) for run in runs]}})

    @extend_schema(
        summary="Run the suite (pinned to a chatbot version, model, temperature and repeat count)",
        operation_id="eval_run_start",
        request=OpenApiTypes.OBJECT,
        tags=["evaluation"],
        responses={202: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Response:
        suite = _suite(request, name)
        given = parse(RunBody, _object_body(request))
        services.eval_request_admit(caller=request.auth)
        run = services.eval_run_start(
            account=request.auth.account,
            suite=suite,
            user=request.auth.user,
            chatbot_version=given.chatbot_version,
            model=given.model,
            temperature=given.temperature,
            repeat=given.repeat,
        )
        run.refresh_from_db()  # run at once where tasks run in the web process
        self.journal_name = f"{suite.name}/{run.pk}"
        return Response({"data": {"id": run.pk, "status": run.status}}, status=202)


class RunView(_Journaled):
    @extend_schema(summary="A run, its counts and every case's result", operation_id="eval_run_get", **DOCS)
    def get(self, request: Request, name: str, run_id: str) -> Response:
        run = _run(request, _suite(request, name), run_id)
        results = list(selectors.results_of(run).prefetch_related("reviews__reviewer"))
        return Response({"data": presenters.run_detail(run, results)})


class RunCancelView(_Journaled):
    command = "eval_cancel"

    @extend_schema(summary="Stop a run: no new case starts", operation_id="eval_run_cancel", request=None, **DOCS)
    def post(self, request: Request, name: str, run_id: str) -> Response:
        run = _run(request, _suite(request, name), run_id)
        services.eval_request_admit(caller=request.auth)
        self.journal_name = f"{name}/{run.pk}"
        run = services.eval_run_cancel(run=run)
        return Response({"data": presenters.run_item(run)})


class RunRetryView(_Journaled):
    command = "eval_retry"

    @extend_schema(
        summary="Ask a finished run's errored cases again",
        operation_id="eval_run_retry",
        request=None,
        tags=["evaluation"],
        responses={202: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, name: str, run_id: str) -> Response:
        run = _run(request, _suite(request, name), run_id)
        services.eval_request_admit(caller=request.auth)
        self.journal_name = f"{name}/{run.pk}"
        run = services.eval_run_retry(run=run)
        return Response({"data": {"id": run.pk, "status": run.status}}, status=202)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: str = Field(description=", ".join(Rating.values))
    note: str = Field("", max_length=2000)


class ReviewView(_Journaled):
    command = "eval_review"

    @extend_schema(
        summary="Rate a result (hallucinating, wrong, incomplete, acceptable, good, excellent) with a note",
        operation_id="eval_review",
        request=OpenApiTypes.OBJECT,
        **DOCS,
    )
    def post(self, request: Request, name: str, run_id: str, result_id: str) -> Response:
        run = _run(request, _suite(request, name), run_id)
        result: EvalResult | None = selectors.result_get(
            account=request.auth.account, run=run, result_id=int(result_id)
        )
        if result is None:
            raise NotFound(f"Result {result_id} of run {run.pk} was not found.", context={"kind": "EvalResult"})
        given = parse(ReviewBody, _object_body(request))
        self.journal_name = f"{name}/{run.pk}/{result.pk}"
        services.eval_result_review(result=result, reviewer=request.auth.user, rating=given.rating, note=given.note)
        return Response({"data": presenters.result_item(result)})


class CompareView(_Journaled):
    @extend_schema(
        summary="Two runs of the suite case by case, with the regressions",
        operation_id="eval_compare",
        parameters=[
            OpenApiParameter("base", int, required=True, description="the earlier run"),
            OpenApiParameter("head", int, required=True, description="the run to check"),
        ],
        **DOCS,
    )
    def get(self, request: Request, name: str) -> Response:
        suite = _suite(request, name)
        ids = {}
        for key in ("base", "head"):
            value = request.query_params.get(key, "")
            if not value.isdigit() or len(value) > 18:
                raise ValidationFailed(f"Give ?{key}= a run id.", errors=[FieldError(key, "a run id is required")])
            ids[key] = value
        base, head = _run(request, suite, ids["base"]), _run(request, suite, ids["head"])
        body = presenters.comparison(base, list(selectors.results_of(base)), head, list(selectors.results_of(head)))
        return Response({"data": body})
