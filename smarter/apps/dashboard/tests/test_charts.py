"""The console's server-drawn charts: bars scaled to the largest value, or to a ceiling with a
reference line (a suite's pass rate out of 100%, its threshold across it)."""

from __future__ import annotations

import pytest

from smarter.apps.dashboard.charts import bar_chart


def test_bars_scale_to_the_largest_value_and_a_chart_of_zeros_is_empty() -> None:
    chart = bar_chart([("a", 50.0), ("b", 100.0)], unit="tokens")
    assert [(bar.text, bar.height) for bar in chart.bars] == [("50 tokens", 70.0), ("100 tokens", 140.0)]
    assert (chart.maximum, chart.line_y, chart.empty) == ("100 tokens", None, False)
    assert bar_chart([("a", 0.0)]).empty


def test_a_share_is_drawn_out_of_its_ceiling_with_the_reference_line_across() -> None:
    chart = bar_chart([("#1", 80.0), ("#2", 0.0)], unit="%", ceiling=100, line=75)
    assert [(bar.label, bar.text, bar.height) for bar in chart.bars] == [("#1", "80%", 112.0), ("#2", "0%", 0.0)]
    assert chart.line_y == pytest.approx(160 - 140 * 0.75)
    assert (chart.maximum, chart.line_text, chart.empty) == ("100%", "75%", False)  # a run that passed nothing is a bar
    assert bar_chart([], unit="%", ceiling=100, line=80).empty
