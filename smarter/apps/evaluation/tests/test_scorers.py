"""Each scorer on golden inputs, with scores worked out by hand where the measure allows."""

from __future__ import annotations

import math

import pytest

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, PluginExpectation, ToolCallMade
from smarter.apps.evaluation.scorers import SCORERS, ScoringContext, default_scorers, passes, score_answer
from smarter.apps.evaluation.scorers.overlap import bleu, chrf, rouge
from smarter.apps.evaluation.scorers.text import contains, exact, pattern_error, regex_match
from smarter.apps.evaluation.scorers.tools import tools

LOCAL = ScoringContext(account_id=1, embedding={"provider": "local"})


def answer(text: str, *calls: ToolCallMade) -> CaseAnswer:
    return CaseAnswer(text=text, tool_calls=tuple(calls))


def test_exact_ignores_outer_white_space_only() -> None:
    expected = CaseExpectation(expected="Paris")

    assert exact(answer("  Paris\n"), expected).value == 1.0
    wrong = exact(answer("paris"), expected)
    assert (wrong.value, wrong.detail) == (0.0, "expected 'Paris'")


def test_contains_scores_the_share_of_rules_kept_and_names_the_broken_ones() -> None:
    expectation = CaseExpectation(
        must_contain=("free shipping", "30 days"), must_not_contain=("refund denied", "lawsuit")
    )

    result = contains(answer("FREE   shipping on orders; refund denied."), expectation)

    assert result.value == 0.5
    assert result.detail == "missing '30 days'; contains 'refund denied'"


def test_contains_keeps_case_when_asked() -> None:
    expectation = CaseExpectation(must_contain=("Gobstopper",), exact_case=True)

    assert contains(answer("the gobstopper lasts"), expectation).value == 0.0
    assert contains(answer("the  Gobstopper lasts"), expectation).value == 1.0


def test_regex_matches_anywhere_and_stops_a_pattern_that_never_ends() -> None:
    assert regex_match(answer("Order #4521 shipped"), CaseExpectation(expected=r"#\d{4}\b")).value == 1.0
    assert regex_match(answer("no number"), CaseExpectation(expected=r"#\d{4}")).detail == "no match for '#\\\\d{4}'"

    catastrophic = regex_match(answer("a" * 40 + "!"), CaseExpectation(expected=r"^(a|aa)+$"))

    assert catastrophic.value == 0.0
    assert catastrophic.detail == "the pattern took longer than 1 s and was stopped"


def test_an_invalid_pattern_is_named_before_a_run() -> None:
    assert pattern_error("(unclosed") is not None
    assert pattern_error(r"\d+") is None


def test_bleu_of_a_one_word_change_is_the_geometric_mean_of_its_ngram_precisions() -> None:
    # 1- to 4-gram precisions 5/6, 3/5, 2/4, 1/3; same length, so no brevity penalty.
    expected = math.pow(5 / 6 * 3 / 5 * 2 / 4 * 1 / 3, 1 / 4)

    result = bleu(answer("the cat sat on the mat"), CaseExpectation(expected="the cat sat on a mat"))

    assert result.value == pytest.approx(expected, abs=1e-6)
    assert bleu(answer("the cat sat on a mat"), CaseExpectation(expected="the cat sat on a mat")).value == 1.0
    assert bleu(answer("dogs bark loudly"), CaseExpectation(expected="the cat sat on a mat")).value == 0.0


def test_rouge_l_is_the_f_measure_of_the_longest_common_subsequence() -> None:
    # LCS "the cat on the mat": 5 of 6 words each way, so P = R = F = 5/6.
    result = rouge(answer("the cat lay on the mat"), CaseExpectation(expected="the cat sat on the mat"))

    assert result.value == pytest.approx(5 / 6, abs=1e-6)


def test_chrf_is_one_for_the_same_text_zero_for_no_shared_characters_and_between_for_a_paraphrase() -> None:
    reference = CaseExpectation(expected="Charging takes two hours.")

    assert chrf(answer("Charging takes two hours."), reference).value == 1.0
    assert chrf(answer("xyz"), CaseExpectation(expected="abc")).value == 0.0
    partial = chrf(answer("Charging needs about two hours."), reference).value
    assert 0.3 < partial < 0.9


def test_tools_checks_expected_calls_with_argument_matchers_and_forbidden_ones() -> None:
    expectation = CaseExpectation(
        expect_plugins=(
            PluginExpectation("orders", {"order_id": 42, "status": {"regex": "^ship"}}),
            PluginExpectation("weather", {"city": {"contains": "paris"}}),
        ),
        forbid_plugins=("refunds",),
    )
    made = answer(
        "done",
        ToolCallMade("orders", {"order_id": "42", "status": "shipped"}),
        ToolCallMade("weather", {"city": "Lyon"}),
        ToolCallMade("refunds", {}),
    )

    result = tools(made, expectation)

    assert result.value == pytest.approx(1 / 3)
    assert result.detail == (
        "weather was called without the expected arguments {'city': {'contains': 'paris'}}; refunds was called"
    )
    assert tools(answer("no tools"), CaseExpectation(expect_plugins=(PluginExpectation("orders"),))).detail == (
        "orders was not called"
    )


def test_similarity_with_the_local_model_ranks_a_paraphrase_above_an_unrelated_answer() -> None:
    expectation = CaseExpectation(expected="The battery charges fully in two hours.")

    paraphrase = SCORERS["similarity"].score(answer("A full charge takes about two hours."), expectation, LOCAL)
    unrelated = SCORERS["similarity"].score(answer("Our office is closed on Sundays."), expectation, LOCAL)
    same = SCORERS["similarity"].score(answer("The battery charges fully in two hours."), expectation, LOCAL)

    assert same.value == pytest.approx(1.0, abs=1e-5)
    assert 0.6 < paraphrase.value < 1.0
    assert unrelated.value < 0.3
    # Deterministic: the same inputs score the same again.
    assert SCORERS["similarity"].score(answer("A full charge takes about two hours."), expectation, LOCAL) == paraphrase


def test_rule_scorers_pass_only_at_one_and_graded_ones_at_the_minimum() -> None:
    scores = score_answer(
        answer("The cat sat on a mat", ToolCallMade("orders", {})),
        CaseExpectation(expected="the cat sat on a mat", must_contain=("cat",), forbid_plugins=("orders",)),
        ["contains", "rouge", "exact"],
        LOCAL,
    )

    assert [(score.scorer, score.value) for score in scores] == [
        ("contains", 1.0),
        ("rouge", 1.0),
        ("exact", 0.0),
        ("tools", 0.0),  # run because the case forbids a plugin, though not named
    ]
    assert [passes(score, 0.9) for score in scores] == [True, True, False, False]


def test_a_case_that_names_no_scorers_runs_those_its_expectations_call_for() -> None:
    assert default_scorers(CaseExpectation(expected="x", must_contain=("y",))) == ["contains", "similarity"]
    assert default_scorers(CaseExpectation(expect_plugins=(PluginExpectation("orders"),))) == ["tools"]
