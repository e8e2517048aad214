"""Suite runs on the production column: MariaDB, Redis as the broker and a real Celery worker
process, asking a stub upstream on loopback. A run started through the API is run by the
worker to its final status and counts (its turns charged by the same worker); a run cancelled
while its cases are answered slowly starts no new case."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.billing.models import Charge
from smarter.apps.account.tests.billing_support import (
    WORKER_BROKER_URL,
    Worker,
    celery_mode,
    mariadb_url_or_skip,
    wait_until,
)
from smarter.apps.account.tests.factories import Persona
from smarter.apps.evaluation.models import FINISHED, EvalResult, EvalRun
from smarter.apps.evaluation.tests.suites import GOLDEN_CASES, chatbot_manifest, golden_upstream, suite_manifest
from smarter.testing.fixtures import flushed_redis_or_skip
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = "/api/v1/evals/support_golden/runs/"
SLOW_SECONDS = 1.0
CASES_AT_ONCE = 2


@pytest.fixture
def upstream(transactional_db: Any, smarter_settings: Any) -> Iterator[OpenAIStub]:
    """The stub, and a worker process whose settings point the platform's provider at it."""
    database_url = mariadb_url_or_skip()
    flushed_redis_or_skip(WORKER_BROKER_URL)
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        worker_env = {
            "SMARTER_LLM_PROVIDER": "openai",
            "SMARTER_OPENAI_BASE_URL": stub.url,
            "SMARTER_OPENAI_API_KEY": "sk-platform",
            "SMARTER_ALLOW_PRIVATE_HOSTS": "true",
            # Two cases at once, so a slow run of 12 is cancelled well before its last case starts.
            "SMARTER_EVALUATION_CONCURRENCY": str(CASES_AT_ONCE),
        }
        saved = {name: os.environ.get(name) for name in worker_env}
        os.environ.update(worker_env)
        process = Worker(database_url=database_url, broker_url=WORKER_BROKER_URL, concurrency=1)
        try:
            with celery_mode(eager=False, broker_url=WORKER_BROKER_URL):
                process.start()
                yield stub
        finally:
            process.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def apply(persona: Persona, manifest: dict[str, Any]) -> None:
    response = persona.client.post("/api/v1/cli/apply/", manifest, format="json")
    assert response.status_code == 200, response.content


def finished(run_id: int) -> bool:
    return EvalRun.objects.filter(pk=run_id, status__in=FINISHED).exists()


def test_a_real_worker_runs_a_suite_to_its_final_status_and_counts(upstream: OpenAIStub, owner: Persona) -> None:
    upstream.respond_with(golden_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES, threshold=0.8))

    started = owner.client.post(RUNS, {"repeat": 2}, format="json")

    assert started.status_code == 202, started.content
    assert started.json()["data"]["status"] == "queued"  # the worker runs it, not the web process
    run_id = started.json()["data"]["id"]
    assert wait_until(lambda: finished(run_id), timeout=180)
    detail = owner.client.get(f"{RUNS}{run_id}/").json()["data"]
    assert (detail["status"], detail["cases"], detail["completed"]) == ("passed", 5, 10)
    assert (detail["passed"], detail["failed"], detail["errors"], detail["passRate"]) == (4, 1, 0, 0.8)
    assert len(detail["results"]) == 10
    assert {result["case"] for result in detail["results"] if result["passed"] is False} == {"exact_colour"}
    # 12 turns (the two-turn case twice), each charged by the worker after its turn committed.
    assert len(upstream.chat_requests) == 14  # the calculator case asks the model twice per turn
    assert wait_until(lambda: Charge.objects.filter(account=owner.account, kind="completion").count() == 12, 60)
    assert set(Charge.objects.filter(account=owner.account).values_list("channel", flat=True)) == {"evaluation"}


def slowly(request: RecordedRequest) -> ScriptedReply:
    return text_reply("A Gizmo costs $12.50.", delay=SLOW_SECONDS)


def test_cancelling_a_running_run_on_a_real_worker_starts_no_new_case(upstream: OpenAIStub, owner: Persona) -> None:
    upstream.respond_with(slowly)
    cases = [{"name": f"price_{number}", "prompt": "What does a Gizmo cost?", "mustContain": ["$12.50"]}
             for number in range(12)]  # fmt: skip
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(cases))
    run_id = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]
    assert wait_until(lambda: EvalResult.objects.filter(run_id=run_id).exists(), timeout=120)

    cancelled = owner.client.post(f"{RUNS}{run_id}/cancel/")

    assert cancelled.status_code == 200, cancelled.content
    assert wait_until(lambda: finished(run_id), timeout=60)
    run = EvalRun.objects.get(pk=run_id)
    asked = len(upstream.chat_requests)
    results = EvalResult.objects.filter(run_id=run_id).count()
    assert run.status == "cancelled"
    assert 0 < results < run.cases == 12
    # The cases under way when it was cancelled finished and were kept; no other was asked.
    assert asked == results == run.completed
    assert run.passed == results
    time.sleep(2 * SLOW_SECONDS)
    assert len(upstream.chat_requests) == asked
