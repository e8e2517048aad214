"""Every write of the evaluation app: suites (a new version on each change of the spec), runs
(started, cancelled, their errored cases retried) and reviews."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from smarter.apps.account.billing import limits
from smarter.apps.account.models import Account
from smarter.apps.chatbot.models import Chatbot, ChatbotVersion
from smarter.apps.evaluation.models import (
    FINISHED,
    EvalResult,
    EvalReview,
    EvalRun,
    Rating,
    RunStatus,
    TestSuite,
    TestSuiteVersion,
)
from smarter.apps.evaluation.selectors import latest_version
from smarter.lib.errors import Conflict, FieldError, ValidationFailed

MAX_REPEAT = 10
# What makes a new version of a suite (its metadata does not).
_SPEC_FIELDS = ("chatbot", "threshold", "judge", "cases")


def _spec_of(suite: TestSuite) -> dict[str, Any]:
    spec: dict[str, Any] = {"chatbot": suite.chatbot.name, "threshold": suite.threshold, "cases": suite.cases}
    if suite.judge:
        spec["judge"] = suite.judge
    return spec


def _record_version(suite: TestSuite, user: User | None) -> TestSuiteVersion:
    number = (TestSuiteVersion.objects.filter(suite=suite).aggregate(last=Max("number"))["last"] or 0) + 1
    return TestSuiteVersion.objects.create(suite=suite, number=number, spec=_spec_of(suite), created_by=user)


@transaction.atomic
def test_suite_create(*, account: Account, name: str, user: User | None = None, **fields: Any) -> TestSuite:
    suite = TestSuite.objects.create(account=account, name=name, **fields)
    _record_version(suite, user)
    return suite


@transaction.atomic
def test_suite_update(*, test_suite: TestSuite, user: User | None = None, **fields: Any) -> bool:
    """Whether anything changed; a change of the chatbot, threshold or cases is a new version."""
    changed = [name for name, value in fields.items() if getattr(test_suite, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(test_suite, name, fields[name])
    test_suite.save(update_fields=[*changed, "updated_at"])
    if any(name in _SPEC_FIELDS for name in changed):
        _record_version(test_suite, user)
    return True


def test_suite_delete(*, test_suite: TestSuite) -> None:
    test_suite.delete()


def eval_request_admit(*, caller: Any) -> None:
    """Starting, cancelling and retrying runs, from the API or the console: counted per API key
    (or console user) against the API key rate limit; 429 with Retry-After beyond it."""
    per_minute = int(settings.SMARTER.rate_limit_api_key_per_minute)
    limits.door_admit(
        key=f"evals:{limits.caller_key(caller)}", per_minute=per_minute, what="to evaluation runs", limit="evaluation"
    )


def config_hash(spec: dict[str, Any]) -> str:
    """A chatbot configuration's fingerprint: equal hashes, equal configurations."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _chatbot_version(chatbot: Chatbot, number: int | None) -> ChatbotVersion | None:
    versions = ChatbotVersion.objects.filter(chatbot=chatbot)
    if number is None:
        return versions.order_by("-number").first()
    found = versions.filter(number=number).first()
    if found is None:
        raise ValidationFailed(
            f"Chatbot {chatbot.name!r} has no version {number}.",
            errors=[FieldError("chatbotVersion", f"no version {number} of {chatbot.name}")],
        )
    return found


def eval_run_start(
    *,
    account: Account,
    suite: TestSuite,
    user: User | None,
    chatbot_version: int | None = None,
    model: str | None = None,
    temperature: float | None = None,
    repeat: int = 1,
) -> EvalRun:
    """Queue a run of the suite's current version, pinned to a chatbot version (the current one
    unless named), a model (the chatbot's unless named), a temperature and a repeat count."""
    problems = []
    if not 1 <= repeat <= MAX_REPEAT:
        problems.append(FieldError("repeat", f"repeat is from 1 to {MAX_REPEAT}"))
    if temperature is not None and not 0 <= temperature <= 2:
        problems.append(FieldError("temperature", "temperature is from 0 to 2"))
    if model is not None and not 0 < len(model) <= 255:
        problems.append(FieldError("model", "model is a name of 1 to 255 characters"))
    if problems:
        raise ValidationFailed("The run cannot start as asked.", errors=problems)
    version = _chatbot_version(suite.chatbot, chatbot_version)
    config = version.spec.get("config", {}) if version else {}
    with transaction.atomic():
        run = EvalRun.objects.create(
            account=account,
            suite=suite,
            suite_version=latest_version(suite),
            chatbot=suite.chatbot,
            chatbot_version=version.number if version else None,
            config_hash=config_hash(version.spec) if version else "",
            provider=config.get("provider") or "",
            model=model or config.get("defaultModel") or suite.chatbot.default_model or "",
            temperature=temperature,
            repeat=repeat,
            threshold=suite.threshold,
            cases=len(suite.cases),
            created_by=user,
        )
        _enqueue(run.pk)
    return run


def _enqueue(run_id: int) -> None:
    from smarter.apps.evaluation.tasks import run_evaluation_task  # the task module calls these services

    transaction.on_commit(lambda: run_evaluation_task.delay(run_id))


def eval_run_cancel(*, run: EvalRun) -> EvalRun:
    """Ask a queued or running run to stop: cases already asked finish, no new ones start."""
    if run.status in FINISHED:
        raise Conflict(f"Run {run.pk} has already finished ({run.status}).")
    EvalRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    if run.status == RunStatus.QUEUED:
        EvalRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.CANCELLED, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run


@transaction.atomic
def eval_run_retry(*, run: EvalRun) -> EvalRun:
    """Ask again the cases that errored (the scored ones keep their results)."""
    if run.status not in FINISHED:
        raise Conflict(f"Run {run.pk} is still {run.status}.")
    errored = EvalResult.objects.filter(run=run, passed__isnull=True)
    if not errored.exists():
        raise Conflict(f"Run {run.pk} has no errored cases to retry.")
    errored.delete()
    EvalRun.objects.filter(pk=run.pk).update(
        status=RunStatus.QUEUED, cancel_requested=False, finished_at=None, errors=0
    )
    _enqueue(run.pk)
    run.refresh_from_db()
    return run


def eval_result_review(*, result: EvalResult, reviewer: User, rating: str, note: str = "") -> EvalReview:
    if rating not in Rating.values:
        raise ValidationFailed("Unknown rating.", errors=[FieldError("rating", f"one of {', '.join(Rating.values)}")])
    review, _ = EvalReview.objects.update_or_create(
        result=result, reviewer=reviewer, defaults={"rating": rating, "note": note[:2000]}
    )
    return review
