"""Charts as inline SVG geometry computed on the server: no chart library, no script needed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float

    @property
    def text_y(self) -> float:
        return self.y + 14

    @property
    def value_x(self) -> float:
        return self.x + self.width + 6


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    maximum: str
    horizontal: bool
    empty: bool
    # A reference value drawn across the bars (a suite's threshold), as its height in the viewBox.
    line_y: float | None = None
    line_text: str = ""

    @property
    def first_label(self) -> str:
        return self.bars[0].label if self.bars else ""

    @property
    def last_label(self) -> str:
        return self.bars[-1].label if self.bars else ""


def _format(value: float, unit: str, decimals: int) -> str:
    if unit == "$":
        return f"${value:,.{decimals}f}"
    if unit == "%":
        return f"{value:,.{decimals}f}%"
    return f"{value:,.0f} {unit}".strip()


def bar_chart(
    points: list[tuple[str, float]],
    *,
    unit: str = "",
    decimals: int = 0,
    horizontal: bool = False,
    ceiling: float | None = None,
    line: float | None = None,
) -> Chart:
    """Bars scaled to the largest value (or to `ceiling`, for a share out of 100), in a fixed
    viewBox the page stretches to its width; `line` draws a reference value across vertical bars.

    A chart with a ceiling is empty only without points: a run that passed nothing is a bar of 0.
    """
    width, height = (600, max(28 * len(points), 28)) if horizontal else (600, 160)
    top = ceiling if ceiling is not None else max((value for _, value in points), default=0.0)
    scale = top or 1.0
    bars = []
    count = max(len(points), 1)
    for index, (label, value) in enumerate(points):
        text = _format(value, unit, decimals)
        if horizontal:
            length = (width - 150 - 100) * value / scale
            bars.append(Bar(label, value, text, 150, index * 28 + 4, max(length, 1 if value else 0), 20))
        else:
            slot = width / count
            bar_height = (height - 20) * value / scale
            bars.append(
                Bar(label, value, text, index * slot + slot * 0.15, height - bar_height, slot * 0.7, bar_height)
            )
    empty = not points if ceiling is not None else top == 0
    line_y = None if line is None or horizontal else height - (height - 20) * min(line, scale) / scale
    line_text = _format(line, unit, decimals) if line is not None else ""
    return Chart(bars, width, height, _format(top, unit, decimals), horizontal, empty, line_y, line_text)
