"""Small server-rendered SVG charts (no JavaScript, no library): a line chart for trends and
horizontal bars for the funnel. Each chart is an ``<svg role="img">`` with a title and a
description; the pages show the same figures in a table next to it for screen readers and
for copying. Every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
BRAND = "#3451c6"
GRID = "#dfe3ea"
MUTED = "#5b6475"


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.1f}"


def line_chart(*, title: str, labels: Sequence[str], values: Sequence[float | int | Decimal | None],
               floor: float | None = 0, ceiling: float | None = None) -> SafeString:
    """A line over ``values`` (None leaves a gap), with ``labels`` under the first, middle
    and last points and the axis at 0 (or ``floor``) and the maximum."""
    numbers = [float(v) for v in values if v is not None]
    lo = min([*numbers, floor]) if floor is not None else min(numbers, default=0.0)
    hi = max([*numbers, ceiling]) if ceiling is not None else max(numbers, default=0.0)
    if hi == lo:
        hi = lo + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(values)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" preserveAspectRatio="xMidYMid meet" '
        f'style="max-width:{WIDTH}px;height:auto" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for v in (lo, (lo + hi) / 2, hi):
        yy = y(v)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="{MUTED}">{escape(_fmt(v))}</text>')
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{x(i):.1f},{y(float(v)):.1f}")
    for points in segments:
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{BRAND}" stroke-width="2" points="{" ".join(points)}"/>')
        if len(points) == 1 or (n <= 31 and points):
            for p in points:
                cx, cy = p.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{BRAND}"/>')
    if n:
        for i in sorted({0, n // 2, n - 1}):
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11" fill="{MUTED}">'
                         f"{escape(str(labels[i]))}</text>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def bar_chart(*, title: str, bars: Sequence[tuple[str, float | int | Decimal]]) -> SafeString:
    """Horizontal bars, one per (label, value), scaled to the largest."""
    row_h = 30
    height = TOP + row_h * len(bars) + 4
    label_w = 120
    top = max((float(v) for _, v in bars), default=0.0) or 1.0
    plot_w = WIDTH - label_w - RIGHT - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" style="max-width:{WIDTH}px;height:auto" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(bars):
        yy = TOP + i * row_h
        w = plot_w * float(value) / top
        parts.append(f'<text x="{label_w - 8}" y="{yy + 17}" text-anchor="end" font-size="12" fill="{MUTED}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{yy + 4}" width="{max(w, 1):.1f}" height="{row_h - 10}" rx="3" fill="{BRAND}"/>')
        parts.append(f'<text x="{label_w + max(w, 1) + 6:.1f}" y="{yy + 17}" font-size="12" fill="#1b2230">{escape(_fmt(float(value)))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
