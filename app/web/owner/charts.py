"""Charts drawn on the server as SVG: no script, no build step, nothing fetched from elsewhere
(the page's CSP allows neither inline scripts nor inline styles, so SVG attributes only)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD_TOP, PAD_BOTTOM = 320, 120, 8, 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    negative: bool
    title: str  # what a screen reader and a long press say: "Mar 3: 66.7"


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    zero_y: float  # where the baseline is drawn
    bars: list[Bar]
    gaps: list[float]  # x of periods with no answers: a small mark, not a zero
    first_label: str
    last_label: str
    low_label: str
    high_label: str


def bar_chart(title: str, points: list[tuple[str, float | None]], *, low: float,
              high: float) -> Chart:  # fmt: skip
    """One bar per period between `low` and `high` (a bar grows from 0, or from `low` when 0 is
    outside the scale, as on CES's 1-7); None is a period without answers."""
    plot = HEIGHT - PAD_TOP - PAD_BOTTOM
    base = 0.0 if low <= 0 <= high else low

    def y_of(value: float) -> float:
        return PAD_TOP + plot * (high - value) / (high - low)

    slot = WIDTH / max(len(points), 1)
    width = max(slot * 0.7, 1.0)
    bars, gaps = [], []
    for i, (label, value) in enumerate(points):
        x = i * slot + (slot - width) / 2
        if value is None:
            gaps.append(round(x + width / 2, 1))
            continue
        top, bottom = sorted((y_of(value), y_of(base)))
        bars.append(Bar(round(x, 1), round(top, 1), round(width, 1),
                        round(max(bottom - top, 1.0), 1), value < base,
                        f"{label}: {value:g}"))  # fmt: skip
    return Chart(title, WIDTH, HEIGHT, round(y_of(base), 1), bars, gaps,
                 points[0][0] if points else "", points[-1][0] if points else "",
                 f"{low:g}", f"{high:g}")  # fmt: skip
