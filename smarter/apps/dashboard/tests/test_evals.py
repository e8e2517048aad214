"""The console's evaluation pages for an owner, a teammate and an outsider: the suites with their
last run, starting a run, a run's results filtered to what failed, reviewing a result,
cancelling and retrying, and two runs compared; another account's suite, run or result is not
found (404) and a refused write changes nothing. Runs ask a stub upstream on loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.dashboard.tests.helpers import apply, signed_in
from smarter.apps.dashboard.tests.test_policy import assert_strict_page
from smarter.apps.evaluation.models import EvalResult, EvalReview, EvalRun
from smarter.apps.evaluation.tests.suites import (
    GOLDEN_CASES,
    chatbot_manifest,
    failing_upstream,
    golden_upstream,
    suite_manifest,
)
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply

# The console runs a suite in the web process and its turns read committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
SUITES = "/dashboard/evals/"
SUITE = "/dashboard/evals/support_golden"


@pytest.fixture
def upstream(platform_upstream: OpenAIStub) -> OpenAIStub:
    platform_upstream.respond_with(golden_upstream)
    return platform_upstream


@pytest.fixture
def suite(upstream: OpenAIStub, owner: Persona) -> None:
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES, threshold=0.8))


def run_from_console(client: Client) -> EvalRun:
    response = client.post(f"{SUITE}/runs/")
    assert response.status_code == 302, response.content
    run = EvalRun.objects.order_by("-id").first()
    assert run is not None
    assert response["Location"] == f"{SUITE}/runs/{run.pk}/"
    return run


def shown_cases(response: Any) -> list[str]:
    return [row.result.case for row in response.context["rows"]]


def worse(request: RecordedRequest) -> ScriptedReply | None:
    """The golden answers, but the price is lost and the colour now right."""
    prompt = request.messages[-1].get("content") or ""
    if "Gizmo cost" in prompt:
        return text_reply("It is quite affordable.")
    if "colour" in prompt:
        return text_reply("Teal.")
    return golden_upstream(request)


# --- suites -----------------------------------------------------------------------------------
def test_the_suites_page_lists_the_accounts_suites_with_their_last_run(
    suite: None, owner: Persona, teammate: Persona, outsider: Persona
) -> None:
    assert signed_in(owner).get(SUITES).context["rows"][0][1] is None
    run = run_from_console(signed_in(owner))

    for persona in (owner, teammate):
        response = signed_in(persona).get(SUITES)
        assert response.status_code == 200
        assert_strict_page(response)
        [(listed, last)] = response.context["rows"]
        assert (listed.name, listed.chatbot.name, last.pk, last.status) == (
            "support_golden",
            "support",
            run.pk,
            "passed",
        )
        html = response.content.decode()
        assert f'href="{SUITE}/runs/{run.pk}/">#{run.pk}</a> <span class="pill ok">passed</span>' in html
        assert '<td class="num pass-rate">80%</td>' in html
        assert f'action="{SUITE}/runs/"' in html
    foreign = signed_in(outsider).get(SUITES)
    assert foreign.context["rows"] == []
    assert b"No test suites yet" in foreign.content


def test_a_teammate_runs_a_suite_and_lands_on_its_results_journaled_as_the_api_journals_it(
    suite: None, teammate: Persona, upstream: OpenAIStub
) -> None:
    console = signed_in(teammate)
    run = run_from_console(console)

    assert (run.status, run.passed, run.failed, run.errors, run.created_by) == ("passed", 4, 1, 0, teammate.user)
    assert len(upstream.chat_requests) == 7  # 5 cases; "sum" asks twice (tool round), "follow_up" has two turns
    page = console.get(f"{SUITE}/runs/{run.pk}/")
    assert page.status_code == 200
    assert_strict_page(page)
    assert shown_cases(page) == ["price", "exact_colour", "sum", "no_refunds_talk", "follow_up"]
    html = page.content.decode()
    assert '<div class="value" id="kpi-pass-rate">80%</div>' in html
    assert '<div class="value" id="kpi-counts">4 / 1 / 0</div>' in html
    assert '<dt>Model</dt><dd class="mono">gpt-4o-mini</dd>' in html
    assert "<dt>Chatbot</dt><dd>" in html and " · version 1</dd>" in html
    assert "http-equiv" not in html  # a finished run's page does not refresh itself
    colour = re.search(r'<tr id="result-\d+" data-case="exact_colour" class="failed">.*?</tr>', html, re.DOTALL)
    assert colour is not None
    assert '<span class="pill bad outcome">Failed</span>' in colour.group()
    assert (
        '<span class="mono">exact</span> 0.00 <span class="muted small detail">expected &#x27;Teal.&#x27;</span>'
        in (colour.group())
    )
    assert "Red and teal." in colour.group()
    total = re.search(r'data-case="sum".*?</tr>', html, re.DOTALL)
    assert total is not None
    assert (
        '<span class="mono strong">calculator</span> <code class="small">{&quot;expression&quot;: &quot;17 + 25&quot;}</code>'
        in (total.group())
    )
    journaled = JournalEntry.objects.filter(account=teammate.account, command="eval")
    assert [(e.kind, e.name, e.status_code, e.user, e.api_key) for e in journaled] == [
        ("TestSuite", f"support_golden/{run.pk}", 302, teammate.user, None)
    ]


def test_the_results_filter_to_failures_and_errors(suite: None, owner: Persona, upstream: OpenAIStub) -> None:
    upstream.respond_with(failing_upstream)  # "no_refunds_talk" errors, "exact_colour" fails
    console = signed_in(owner)
    run = run_from_console(console)

    failures = console.get(f"{SUITE}/runs/{run.pk}/?show=failures")

    assert shown_cases(failures) == ["exact_colour", "no_refunds_talk"]
    assert failures.context["show"] == "failures"
    html = failures.content.decode()
    assert 'class="active" id="show-failures" aria-current="true"' in html
    assert '<span class="pill warn outcome">Error</span>' in html
    assert '<div class="error-text">502 ' in html
    assert shown_cases(console.get(f"{SUITE}/runs/{run.pk}/?show=everything")) == [
        case["name"] for case in GOLDEN_CASES
    ]


def test_a_result_is_reviewed_with_one_of_six_ratings_and_a_note_and_the_review_can_change(
    suite: None, owner: Persona, teammate: Persona
) -> None:
    run = run_from_console(signed_in(owner))
    colour = EvalResult.objects.get(run=run, case="exact_colour")
    review = f"{SUITE}/runs/{run.pk}/results/{colour.pk}/review/"
    console = signed_in(teammate)

    page = console.get(f"{SUITE}/runs/{run.pk}/")
    options = re.findall(
        rf'<select id="rating-{colour.pk}" name="rating" required>(.*?)</select>', page.content.decode(), re.DOTALL
    )
    assert re.findall(r'<option value="([a-z]+)">', options[0]) == [
        "hallucinating", "wrong", "incomplete", "acceptable", "good", "excellent"
    ]  # fmt: skip
    assert f'<label for="note-{colour.pk}">Note</label>' in page.content.decode()

    first = console.post(review, {"rating": "hallucinating", "note": "made up a colour", "show": "failures"})
    assert (first.status_code, first["Location"]) == (302, f"{SUITE}/runs/{run.pk}/?show=failures#result-{colour.pk}")
    changed = console.post(review, {"rating": "wrong", "note": "only the colour is wrong"})
    assert changed["Location"] == f"{SUITE}/runs/{run.pk}/#result-{colour.pk}"
    refused = console.post(review, {"rating": "meh"})

    assert refused.status_code == 400
    assert b'<div class="alert error" role="alert" id="run-error">Unknown rating.</div>' in refused.content
    assert list(EvalReview.objects.values_list("result_id", "reviewer__username", "rating", "note")) == [
        (colour.pk, "teammate", "wrong", "only the colour is wrong")
    ]
    row = next(row for row in console.get(f"{SUITE}/runs/{run.pk}/").context["rows"] if row.result == colour)
    assert (row.my_rating, row.my_note) == ("wrong", "only the colour is wrong")
    assert row.reviews == [{"reviewer": "teammate", "rating": "wrong", "note": "only the colour is wrong"}]
    # The owner sees the teammate's review and has none of their own to change.
    mine = next(row for row in signed_in(owner).get(f"{SUITE}/runs/{run.pk}/").context["rows"] if row.result == colour)
    assert (mine.my_rating, mine.reviews[0]["reviewer"]) == ("", "teammate")
    journaled = JournalEntry.objects.filter(command="eval_review").order_by("id")
    assert [(e.name, e.status_code) for e in journaled] == [
        (f"support_golden/{run.pk}/{colour.pk}", 302),
        (f"support_golden/{run.pk}/{colour.pk}", 302),
        (f"support_golden/{run.pk}/{colour.pk}", 400),
    ]


def test_a_run_with_errors_offers_a_retry_and_a_finished_one_no_cancel(
    suite: None, owner: Persona, upstream: OpenAIStub
) -> None:
    upstream.respond_with(failing_upstream)
    console = signed_in(owner)
    run = run_from_console(console)
    page = console.get(f"{SUITE}/runs/{run.pk}/").content.decode()
    assert (run.status, 'id="retry-run"' in page, 'id="cancel-run"' in page) == ("error", True, False)

    refused = console.post(f"{SUITE}/runs/{run.pk}/cancel/")
    assert refused.status_code == 409
    assert f"Run {run.pk} has already finished (error).".encode() in refused.content

    upstream.respond_with(golden_upstream)
    retried = console.post(f"{SUITE}/runs/{run.pk}/retry/")
    assert (retried.status_code, retried["Location"]) == (302, f"{SUITE}/runs/{run.pk}/")
    run.refresh_from_db()
    assert (run.status, run.passed, run.failed, run.errors) == ("passed", 4, 1, 0)
    assert 'id="retry-run"' not in console.get(f"{SUITE}/runs/{run.pk}/").content.decode()
    nothing_to_retry = console.post(f"{SUITE}/runs/{run.pk}/retry/")
    assert nothing_to_retry.status_code == 409
    assert f"Run {run.pk} has no errored cases to retry.".encode() in nothing_to_retry.content
    assert [(e.command, e.status_code) for e in JournalEntry.objects.exclude(command="eval").order_by("id")] == [
        ("eval_cancel", 409),
        ("eval_retry", 302),
        ("eval_retry", 409),
    ]


@pytest.mark.django_db  # in a test transaction, so the queued run's task never starts
def test_a_queued_run_refreshes_its_page_and_is_cancelled_from_it(suite: None, owner: Persona) -> None:
    console = signed_in(owner)
    run = run_from_console(console)
    page = console.get(f"{SUITE}/runs/{run.pk}/").content.decode()
    assert (run.status, 'id="cancel-run"' in page) == ("queued", True)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "Still queued: 0 of 5 cases answered." in page

    cancelled = console.post(f"{SUITE}/runs/{run.pk}/cancel/")

    assert (cancelled.status_code, cancelled["Location"]) == (302, f"{SUITE}/runs/{run.pk}/")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert 'id="cancel-run"' not in console.get(f"{SUITE}/runs/{run.pk}/").content.decode()


# --- comparison -------------------------------------------------------------------------------
def test_the_comparison_shows_each_case_base_against_head_the_regressions_and_the_pass_rate_chart(
    suite: None, owner: Persona, upstream: OpenAIStub
) -> None:
    console = signed_in(owner)
    assert console.get(f"{SUITE}/compare/").context["comparison"] is None  # no run yet
    base = run_from_console(console)
    once = console.get(f"{SUITE}/compare/")
    assert once.context["comparison"] is None
    assert b"Run the suite once more to compare two runs." in once.content
    upstream.respond_with(worse)
    head = run_from_console(console)

    page = console.get(f"{SUITE}/compare/")  # by default: the newest run against the one before

    assert page.status_code == 200
    assert_strict_page(page)
    assert (page.context["base"], page.context["head"]) == (base, head)
    assert page.context["comparison"]["regressions"] == ["price"]
    html = page.content.decode()
    price = re.search(r'<tr data-case="price" class="regression">.*?</tr>', html, re.DOTALL)
    assert price is not None
    assert '<span class="pill ok">Passed</span> 1.00' in price.group()
    assert '<span class="pill bad">Failed</span> 0.00' in price.group()
    assert '<td class="num">-1.00</td>' in price.group()
    assert '<strong class="regression-text">Regression</strong>' in price.group()
    assert '<tr data-case="exact_colour" class="improvement">' in html
    assert '<span class="pill bad">1 regression</span>' in html
    # The chart: one bar per finished run, oldest first, out of 100%, the threshold across it.
    chart = page.context["chart"]
    assert [(bar.label, bar.text) for bar in chart.bars] == [(f"#{base.pk}", "80%"), (f"#{head.pk}", "80%")]
    assert chart.line_text == "80%"
    assert html.count('<rect class="bar"') == 2
    assert (
        '<svg class="chart" viewBox="0 0 600 160" role="img" aria-label="Pass rate per run, oldest to newest"' in html
    )
    assert f"<title>#{base.pk}: 80%</title>" in html
    assert '<line class="reference"' in html

    swapped = console.get(f"{SUITE}/compare/?base={head.pk}&head={base.pk}")
    assert swapped.context["comparison"]["regressions"] == ["exact_colour"]
    assert console.get(f"{SUITE}/compare/?base={base.pk}&head=999999").status_code == 404


# --- tenancy ----------------------------------------------------------------------------------
def test_an_outsider_finds_no_suite_run_or_result_of_another_account_and_changes_nothing(
    suite: None, owner: Persona, outsider: Persona, upstream: OpenAIStub
) -> None:
    run = run_from_console(signed_in(owner))
    result = EvalResult.objects.filter(run=run).first()
    assert result is not None
    asked = len(upstream.chat_requests)
    journal_before = list(JournalEntry.objects.filter(account=owner.account).values_list("id", flat=True))
    foreign = signed_in(outsider)
    runs = f"{SUITE}/runs/"

    responses = [
        foreign.get(f"{runs}{run.pk}/"),
        foreign.get(f"{runs}{run.pk}/?show=failures"),
        foreign.get(f"{SUITE}/compare/"),
        foreign.get(f"{SUITE}/compare/?base={run.pk}&head={run.pk}"),
        foreign.post(runs),
        foreign.post(f"{runs}{run.pk}/cancel/"),
        foreign.post(f"{runs}{run.pk}/retry/"),
        foreign.post(f"{runs}{run.pk}/results/{result.pk}/review/", {"rating": "good", "note": "mine now"}),
    ]

    assert [response.status_code for response in responses] == [404] * 8
    assert all(b"<h1>Not found</h1>" in response.content for response in responses)
    assert_strict_page(responses[0])
    assert EvalRun.objects.count() == 1
    assert EvalReview.objects.count() == 0
    assert len(upstream.chat_requests) == asked
    assert list(JournalEntry.objects.filter(account=owner.account).values_list("id", flat=True)) == journal_before
    # The refused writes are journaled where they were asked: in the outsider's own account.
    assert [
        (e.command, e.status_code) for e in JournalEntry.objects.filter(account=outsider.account).order_by("id")
    ] == [
        ("eval", 404),
        ("eval_cancel", 404),
        ("eval_retry", 404),
        ("eval_review", 404),
    ]


def test_a_run_of_another_suite_of_the_same_account_is_not_found_under_this_one(suite: None, owner: Persona) -> None:
    apply(owner, suite_manifest(GOLDEN_CASES[:1], name="smoke"))
    run = run_from_console(signed_in(owner))
    assert signed_in(owner).get(f"/dashboard/evals/smoke/runs/{run.pk}/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_and_a_post_needs_the_csrf_token(suite: None, owner: Persona) -> None:
    for path in (SUITES, f"{SUITE}/compare/", f"{SUITE}/runs/1/"):
        response = Client().get(path)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")
    assert Client().post(f"{SUITE}/runs/")["Location"] == f"/login/?next={SUITE}/runs/"
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner.user)  # type: ignore[arg-type]
    assert strict.post(f"{SUITE}/runs/").status_code == 403
    assert EvalRun.objects.count() == 0


@pytest.mark.django_db  # the run stays queued: only the starts are counted here
def test_starting_runs_from_the_console_counts_against_the_apis_budget(
    suite: None, owner: Persona, smarter_settings: Any
) -> None:
    smarter_settings.rate_limit_api_key_per_minute = 1
    console = signed_in(owner)
    run_from_console(console)

    refused = console.post(f"{SUITE}/runs/")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"<h1>The run did not start</h1>" in refused.content
    assert EvalRun.objects.count() == 1
    assert [(e.command, e.status_code) for e in JournalEntry.objects.order_by("id")] == [("eval", 302), ("eval", 429)]


@pytest.mark.django_db
@pytest.mark.parametrize("run_id", ["0", "9" * 30])
def test_a_run_id_that_cannot_exist_is_not_found(suite: None, owner: Persona, run_id: str) -> None:
    console = signed_in(owner)
    assert console.get(f"{SUITE}/runs/{run_id}/").status_code == 404
    assert console.get(f"{SUITE}/compare/?base={run_id}&head=1").status_code == 404
    assert console.post(f"{SUITE}/runs/{run_id}/results/{run_id}/review/", {"rating": "good"}).status_code == 404
