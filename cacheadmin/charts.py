"""Server-rendered SVG line charts for the cache panel: no script, no CDN.

Colours are SVG presentation attributes, so the pages' Content-Security-Policy (no inline
scripts) is respected; each chart names its series in a legend of its own.
"""

from datetime import UTC, datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
PALETTE = ["#417690", "#e08e0b", "#2e8540", "#ba2121", "#7a4fa3", "#1b9aaa", "#8a6d3b", "#d6336c", "#555555"]


def colour(index):
    return PALETTE[index % len(PALETTE)]


def _nice_max(value):
    """The smallest of 1, 2, 5, 10, 20, 50… at least value (the y axis' top)."""
    if value <= 0:
        return 1
    scale = 1
    while scale * 10 <= value:
        scale *= 10
    return next(step * scale for step in (1, 2, 5, 10) if step * scale >= value)


def line_chart(chart_id, label, minutes, series, y_max=None, unit=""):
    """An <svg> with one <polyline class="series"> per (name, values) of `series`.

    `minutes` are epoch minutes (the x axis, oldest first); a None value breaks the line.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = y_max if y_max is not None else _nice_max(max((v for _, values in series for v in values if v), default=0))
    count = max(len(minutes) - 1, 1)

    def x(i):
        return LEFT + plot_w * i / count

    def y(value):
        return TOP + plot_h * (1 - value / top)

    grid = []
    for fraction in (0, 0.5, 1):
        value = top * fraction
        text = f"{value:,.0f}{unit}" if value == int(value) else f"{value:,.1f}{unit}"
        grid.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#cccccc" stroke-width="1"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="currentColor">{}</text>',
                LEFT,
                f"{y(value):.1f}",
                WIDTH - RIGHT,
                f"{y(value):.1f}",
                LEFT - 4,
                f"{y(value) + 4:.1f}",
                text,
            )
        )
    ticks = []
    for i in range(0, len(minutes), 15):
        stamp = datetime.fromtimestamp(minutes[i] * 60, tz=UTC).strftime("%H:%M")
        ticks.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="currentColor">{}</text>',
                f"{x(i):.1f}",
                HEIGHT - 8,
                stamp,
            )
        )
    lines = []
    for index, (name, values) in enumerate(series):
        runs, run = [], []
        for i, value in enumerate(values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(f"{x(i):.1f},{y(min(value, top)):.1f}")
        if run:
            runs.append(run)
        paths = format_html_join(
            "",
            '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>',
            ((" ".join(points), colour(index)) for points in runs if len(points) > 1),
        ) + format_html_join(  # a lone minute is a dot: a line needs two points
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}"/>',
            (tuple(points[0].split(",")) + (colour(index),) for points in runs if len(points) == 1),
        )
        lines.append(format_html('<g class="series" data-read="{}"><title>{}</title>{}</g>', name, name, paths))
    return format_html(
        '<svg id="{}" class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}{}{}</svg>',
        chart_id,
        WIDTH,
        HEIGHT,
        label,
        mark_safe("".join(grid)),
        mark_safe("".join(ticks)),
        mark_safe("".join(lines)),
    )


def legend(names):
    """An HTML legend matching line_chart's colours."""
    items = format_html_join(
        "",
        '<li><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" fill="{}"/></svg> {}</li>',
        ((colour(index), name) for index, name in enumerate(names)),
    )
    return format_html('<ul class="chart-legend">{}</ul>', items)
