"""Charts drawn by the portal itself: SVG written on the server, no script and no CDN.

Two shapes cover the reports page: grouped bars (`bar_chart`) and lines with points
(`line_chart`). Every text that reaches the SVG (titles, labels, legend, tooltips), and a label may
be a person's name, goes through `escape`: the SVG is inline in the page, so an unescaped
`<script>` in a technician's name would run. Each bar and point carries its series, label and
value as data attributes and a `<title>` (the browser's tooltip), and the page shows the same
figures as a table beside the chart, for screen readers and for reading without SVG.

Colours are presentation attributes, not `style` (the Content-Security-Policy has no
'unsafe-inline')."""
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
MAX_X_LABELS = 12
PALETTE = ("#0d6efd", "#198754", "#fd7e14", "#6f42c1")  # Bootstrap's blue, green, orange, purple
_ids = count(1)


@dataclass(frozen=True)
class Series:
    """One named row of values; None is a gap (no bar, no point)."""

    name: str
    values: Sequence[float | None]


def _nice_top(largest: float, *, whole: bool = False) -> tuple[float, float]:
    """An axis top and tick step a person reads at a glance: 1, 2 or 5 times a power of ten,
    four or five steps (whole steps for counts: no "1.5 incidents")."""
    if largest <= 0:
        return (1.0, 1.0) if whole else (1.0, 0.25)
    raw = largest / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, step)
    return step * math.ceil(largest / step), step


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _frame(title: str, y_top: float, y_step: float, y_format: Callable[[float], str],
           series: Sequence[Series]) -> tuple[list[str], str]:
    """The opening tag, title, legend and y axis with its grid; returns (parts, id of the title)."""
    title_id = f"chart-{next(_ids)}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{title_id}" font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]
    x = LEFT
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
                     f'<text class="legend" x="{x + 14}" y="17">{escape(one.name)}</text>')
        x += 28 + 7 * len(one.name)
    steps = round(y_top / y_step)
    for tick in range(steps + 1):
        value = y_step * tick
        y = _y(value, y_top)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dee2e6"/>'
                     f'<text class="y-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'fill="#495057">{escape(y_format(value))}</text>')
    return parts, title_id


def _y(value: float, y_top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / y_top)


def _x_labels(labels: Sequence[str], centre: Callable[[int], float]) -> list[str]:
    """At most MAX_X_LABELS labels under the axis, evenly spread (a year of days stays legible).
    They may be shorter than the data's labels ("Mar 3" for 2025-03-03): see `ticks`."""
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    return [f'<text class="x-tick" x="{centre(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'fill="#495057">{escape(label)}</text>' for i, label in enumerate(labels) if i % every == 0]


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
              y_format: Callable[[float], str] = _number, y_max: float | None = None, whole: bool = False,
              ticks: Sequence[str] | None = None) -> Markup:
    """Bars for each label, one per series side by side. `whole`: the values are counts; `ticks`:
    the text under the axis, when shorter than the labels (which the tooltips keep)."""
    largest = max([value for one in series for value in one.values if value is not None] + [0])
    y_top, y_step = _nice_top(y_max if y_max is not None else largest, whole=whole)
    parts, _ = _frame(title, y_top, y_step, y_format, series)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    for s_index, one in enumerate(series):
        colour = PALETTE[s_index % len(PALETTE)]
        for index, (label, value) in enumerate(zip(labels, one.values, strict=True)):
            if value is None:
                continue
            x = LEFT + slot * index + slot * 0.1 + bar * s_index
            y = _y(value, y_top)
            tip = f"{label}: {y_format(value)} {one.name}"
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}" data-series="{escape(one.name)}" '
                         f'data-label="{escape(label)}" data-value="{escape(_number(value))}">'
                         f'<title>{escape(tip)}</title></rect>')
    parts += _x_labels(ticks or labels, lambda i: LEFT + slot * (i + 0.5))
    parts.append(_axis())
    return Markup("".join(parts) + "</svg>")  # noqa: S704 -- every text above went through escape()


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
               y_format: Callable[[float], str] = _number, ticks: Sequence[str] | None = None) -> Markup:
    """A line per series through its points; a None breaks the line. `ticks` as for bar_chart."""
    largest = max([value for one in series for value in one.values if value is not None] + [0])
    y_top, y_step = _nice_top(largest)
    parts, _ = _frame(title, y_top, y_step, y_format, series)
    span = (WIDTH - LEFT - RIGHT) / max(1, len(labels))

    def centre(index: int) -> float:
        return LEFT + span * (index + 0.5)

    for s_index, one in enumerate(series):
        colour = PALETTE[s_index % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for index, value in enumerate(one.values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{centre(index):.1f},{_y(value, y_top):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
                             f'stroke-width="2"/>')
        for index, (label, value) in enumerate(zip(labels, one.values, strict=True)):
            if value is None:
                continue
            tip = f"{label}: {y_format(value)} {one.name}"
            parts.append(f'<circle class="point" cx="{centre(index):.1f}" cy="{_y(value, y_top):.1f}" r="3" '
                         f'fill="{colour}" data-series="{escape(one.name)}" data-label="{escape(label)}" '
                         f'data-value="{escape(_number(value))}"><title>{escape(tip)}</title></circle>')
    parts += _x_labels(ticks or labels, centre)
    parts.append(_axis())
    return Markup("".join(parts) + "</svg>")  # noqa: S704 -- every text above went through escape()


def _axis() -> str:
    return (f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#6c757d"/>')


def percent(value: float) -> str:
    return f"{_number(value)} %"
