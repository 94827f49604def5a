"""Server-side SVG charts: a day-by-day stacked bar chart, drawn as markup (no script).

A chart is a few hundred elements of plain SVG inside the page, so it costs no
request, works without JavaScript, prints, and scales with the page. Each bar segment
carries a ``<title>`` (the browser shows it on hover) and the figure a text summary
for screen readers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Callable, Sequence

from markupsafe import Markup, escape

log = logging.getLogger(__name__)

#: Series colours (Observable's ten, distinguishable with the common colour-vision
#: deficiencies), then grey for "other".
PALETTE = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2",
           "#97bbf5", "#9c6b4e", "#9498a0")
OTHER = "#c4c4c4"
#: Series drawn apart; the rest are summed into "other".
MAX_SERIES = 8


@dataclasses.dataclass
class Series:
    """One stacked layer: its name, colour and a value per bar."""

    name: str
    values: list[float]
    color: str = OTHER


def stack(labels: Sequence[str], points: dict[tuple[str, str], float],
          like: Sequence[Series] = (), other: str = "other") -> list[Series]:
    """Return series from ``{(label, series name): value}``: the :data:`MAX_SERIES`
    largest by total, coloured, then one ``other`` holding the rest.

    ``like``: another chart's series, whose names keep their colours here (two charts
    of the same models then agree), and whose ``other`` takes the same names.
    """
    at = {label: i for i, label in enumerate(labels)}
    totals: dict[str, float] = {}
    for (label, name), value in points.items():
        if label in at:
            totals[name] = totals.get(name, 0.0) + value
    ranked = sorted((n for n in totals if totals[n] > 0), key=lambda n: (-totals[n], n))
    colours = {s.name: s.color for s in like if s.name != other}
    if like:
        kept = [n for n in colours if n in ranked]
        rest = [n for n in ranked if n not in colours]
    else:
        kept, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]
        colours = {name: PALETTE[i] for i, name in enumerate(kept)}
    series = {name: Series(name, [0.0] * len(labels), colours[name]) for name in kept}
    if rest:
        series[other] = Series(other, [0.0] * len(labels), OTHER)
    for (label, name), value in points.items():
        if label in at and totals.get(name, 0) > 0:
            target = series[name] if name in kept else series[other]
            target.values[at[label]] += value
    return list(series.values())


def nice_step(top: float, ticks: int = 4) -> float:
    """Return a round step (1, 2 or 5 times a power of ten) for about ``ticks`` ticks."""
    if top <= 0:
        return 1.0
    rough = top / ticks
    power = 10 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power


def stacked_bars(labels: Sequence[str], series: Sequence[Series], *, title: str,
                 fmt: Callable[[float], str], width: int = 760, height: int = 220) -> Markup:
    """Return a ``<figure>`` holding an SVG stacked bar chart and its legend.

    ``labels`` name the bars (days, YYYY-MM-DD); ``fmt`` writes a value for the axis and
    the hover titles.
    """
    left, right, top, bottom = 64, 8, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = max(totals, default=0.0)
    step = nice_step(peak)
    ceiling = step * max(1, math.ceil(peak / step)) if peak > 0 else step
    slot = plot_w / count
    bar = max(1.0, slot * 0.78)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">']
    value = 0.0
    while value <= ceiling + step / 2:  # grid lines and the value axis
        y = top + plot_h - value / ceiling * plot_h
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(fmt(value))}</text>')
        value += step
    every = max(1, math.ceil(count / 10))  # at most about ten day labels
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        base = top + plot_h
        for layer in series:
            amount = layer.values[i]
            if amount <= 0:
                continue
            h = amount / ceiling * plot_h
            base -= h
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                         f'height="{max(h, 0.5):.1f}" fill="{layer.color}"><title>'
                         f'{escape(label)} · {escape(layer.name)}: {escape(fmt(amount))}'
                         f'</title></rect>')
        if i % every == 0:
            parts.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 8}" '
                         f'text-anchor="middle">{escape(_short(label))}</text>')
    parts.append("</svg>")
    # Swatches take their colour from a class: the pages' Content-Security-Policy allows
    # no inline style (an SVG fill attribute is not one).
    legend = "".join(f'<li><span class="swatch {_swatch(s.color)}"></span>'
                     f'{escape(s.name)}</li>' for s in series)
    summary = (f"{title}: {len(labels)} days, highest {fmt(peak)}" if labels else title)
    return Markup(f'<figure class="chart"><figcaption class="sr">{escape(summary)}'
                  f'</figcaption>{"".join(parts)}<ul class="legend">{legend}</ul></figure>')


def _swatch(color: str) -> str:
    """The stylesheet class of a series colour (``c0`` ... ``c9``, ``cother``)."""
    return f"c{PALETTE.index(color)}" if color in PALETTE else "cother"


def _short(label: str) -> str:
    """A bar's axis label: a day without its year (03-08), a month whole (2026-03)."""
    return label[5:] if len(label) == 10 else label
