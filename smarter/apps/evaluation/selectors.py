"""Reads of suites, runs and results, each scoped by the account."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from smarter.apps.account.models import Account
from smarter.apps.evaluation.models import EvalResult, EvalRun, TestSuite, TestSuiteVersion


def test_suites_of(account: Account) -> QuerySet[TestSuite]:
    return TestSuite.objects.filter(account=account).select_related("chatbot").order_by("name")


def test_suite_get(*, account: Account, name: str) -> TestSuite | None:
    return test_suites_of(account).filter(name=name).first()


def latest_version(suite: TestSuite) -> TestSuiteVersion:
    return TestSuiteVersion.objects.filter(suite=suite).order_by("-number").first()  # type: ignore[return-value]


def runs_of(*, account: Account, suite: TestSuite) -> QuerySet[EvalRun]:
    return EvalRun.objects.filter(account=account, suite=suite).select_related("suite_version")


def run_get(*, account: Account, suite: TestSuite, run_id: int) -> EvalRun | None:
    return runs_of(account=account, suite=suite).filter(pk=run_id).first()


def results_of(run: EvalRun) -> QuerySet[EvalResult]:
    return EvalResult.objects.filter(run=run).order_by("position", "attempt")


def result_get(*, account: Account, run: EvalRun, result_id: int) -> EvalResult | None:
    return EvalResult.objects.filter(run=run, run__account=account, pk=result_id).first()


def test_suite_status(suite: TestSuite) -> dict[str, Any]:
    version = latest_version(suite)
    last = EvalRun.objects.filter(suite=suite).order_by("-created_at", "-id").first()
    status: dict[str, Any] = {"version": version.number if version else 0, "cases": len(suite.cases)}
    if last is not None:
        status["lastRun"] = {"id": last.pk, "status": last.status, "passRate": last.pass_rate}
    return status
