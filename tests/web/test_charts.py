"""The SVG charts: series ranking, one 'other', round axis steps, escaped names."""

from __future__ import annotations

from thinkt.collector.web import charts


def test_the_largest_series_are_kept_and_the_rest_is_other():
    labels = ["2026-03-01", "2026-03-02"]
    points = {(labels[0], f"m{i}"): float(i + 1) for i in range(12)}
    points[("2026-03-09", "m0")] = 99.0  # a label outside the chart is ignored
    series = charts.stack(labels, points)
    assert [s.name for s in series][:3] == ["m11", "m10", "m9"]
    assert len(series) == charts.MAX_SERIES + 1 and series[-1].name == "other"
    assert series[-1].values[0] == sum(range(1, 5))  # m0..m3
    # Another chart of the same names keeps their colours.
    again = charts.stack(labels, {(labels[1], "m9"): 1.0, (labels[1], "m10"): 5.0},
                         like=series)
    assert {s.name: s.color for s in again} == {"m10": series[1].color, "m9": series[2].color}


def test_steps_are_round():
    assert [charts.nice_step(v) for v in (0, 7, 95, 1234, 0.42)] == [1.0, 2, 50, 500, 0.2]


def test_the_svg_escapes_names_and_titles_each_segment():
    series = [charts.Series("<b>model</b>", [3.0, 0.0], charts.PALETTE[0])]
    svg = str(charts.stacked_bars(["2026-03-01", "2026-03-02"], series, title="T & t",
                                  fmt=lambda v: f"{v:g}"))
    assert "<b>model</b>" not in svg and "&lt;b&gt;model&lt;/b&gt;" in svg
    assert svg.count("<rect") == 1 and "2026-03-01 · &lt;b&gt;model&lt;/b&gt;: 3" in svg
    assert 'aria-label="T &amp; t"' in svg and "style=" not in svg.split("<ul")[0]
