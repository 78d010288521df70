"""The NPS trend as a server-rendered inline SVG (no JavaScript, no library).

One bar per month from the zero line (up for a positive NPS, down for a negative one, on
the -100..100 scale), a gap with a dash for a month without answers (null, not 0), the month
and the number of answers under each bar; the value sits above the bar's top, or above
the zero line for a negative bar (clear of the month labels). The SVG has ``role="img"`` and a ``<title>`` /
``<desc>`` that says the same in words; the page shows the table too.
"""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from .maths import NpsFigures

WIDTH, HEIGHT = 720, 240
TOP, BOTTOM, LEFT, RIGHT = 16, 44, 40, 8


def _y(value: float) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return TOP + plot * (100 - value) / 200


def _answers(n: int) -> str:
    return f"{n} answer{'' if n == 1 else 's'}"


def trend_svg(rows: list[tuple[date, NpsFigures]], *, title: str = "NPS by month") -> SafeString:
    if not rows:
        return mark_safe("")
    slot = (WIDTH - LEFT - RIGHT) / len(rows)
    bar = max(4.0, slot * 0.6)
    words = "; ".join(
        f"{m:%b %Y}: " + ("no answers" if f.nps is None else f"NPS {f.nps} from {_answers(f.responses)}") for m, f in rows
    )
    parts = [
        format_html('<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="nps-chart-title nps-chart-desc" '
                    'xmlns="http://www.w3.org/2000/svg" style="max-width:{}px;height:auto;font-size:11px">', WIDTH, HEIGHT, WIDTH),
        format_html('<title id="nps-chart-title">{}</title><desc id="nps-chart-desc">{}</desc>', title, words),
    ]
    for level in (100, 50, 0, -50, -100):
        y = _y(level)
        parts.append(format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1"/>'
            '<text x="{}" y="{}" text-anchor="end" fill="#5b6475" dominant-baseline="middle">{}</text>',
            LEFT, WIDTH - RIGHT, f"{y:.1f}", f"{y:.1f}", "#98a2b3" if level == 0 else "#eef0f4", LEFT - 4, f"{y:.1f}", level))
    zero = _y(0)
    for i, (month, fig) in enumerate(rows):
        x = LEFT + slot * i + (slot - bar) / 2
        centre = LEFT + slot * i + slot / 2
        if fig.nps is None:
            parts.append(format_html('<text x="{}" y="{}" text-anchor="middle" fill="#98a2b3">&#8211;</text>', f"{centre:.1f}", f"{zero - 4:.1f}"))
        else:
            value = float(fig.nps)
            top, height = (_y(value), zero - _y(value)) if value >= 0 else (zero, _y(value) - zero)
            colour = "#1f7a46" if value > 0 else ("#b42318" if value < 0 else "#5b6475")
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" rx="2"><title>{}: NPS {} ({})</title></rect>'
                '<text x="{}" y="{}" text-anchor="middle" fill="#1b2230">{}</text>',
                f"{x:.1f}", f"{top:.1f}", f"{bar:.1f}", f"{max(height, 1):.1f}", colour, f"{month:%b %Y}", fig.nps, _answers(fig.responses),
                f"{centre:.1f}", f"{(top - 4) if value >= 0 else (zero - 4):.1f}", fig.nps))
        parts.append(format_html(
            '<text x="{}" y="{}" text-anchor="middle" fill="#5b6475">{}</text>'
            '<text x="{}" y="{}" text-anchor="middle" fill="#98a2b3">{}</text>',
            f"{centre:.1f}", HEIGHT - BOTTOM + 16, f"{month:%b}", f"{centre:.1f}", HEIGHT - BOTTOM + 30, fig.responses))
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(p) for p in parts))

