"""The dashboard's items-per-day chart: a self-contained SVG drawing of the store's counts."""

from __future__ import annotations

from xml.sax.saxutils import escape

from haystack_collector.store.counts import DayCount, items_per_day

__all__ = ["HEIGHT", "WIDTH", "DayCount", "bar_chart_svg", "items_per_day"]

WIDTH, HEIGHT = 640, 180
_TOP, _BOTTOM, _LEFT, _RIGHT = 16, 28, 44, 8


# Presentation attributes, not a <style> element: the page's Content-Security-Policy
# (style-src 'self') covers the image too.
_TEXT = 'font-family="sans-serif" font-size="11" fill="#555"'


def bar_chart_svg(counts: list[DayCount]) -> str:
    """A bar per day with the maximum on the axis; every text is escaped."""
    peak = max((c.count for c in counts), default=0)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(len(counts), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img">',
        f"<title>Items per day, last {len(counts)} days</title>",
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _RIGHT}" '
        f'y2="{HEIGHT - _BOTTOM}" stroke="#999"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end" {_TEXT}>{peak}</text>',
        f'<text x="{_LEFT - 4}" y="{HEIGHT - _BOTTOM}" text-anchor="end" {_TEXT}>0</text>',
    ]
    for index, entry in enumerate(counts):
        height = 0.0 if peak == 0 else plot_h * entry.count / peak
        x = _LEFT + index * slot
        y = HEIGHT - _BOTTOM - height
        label = escape(f"{entry.day.isoformat()}: {entry.count}")
        parts.append(
            f'<rect class="bar" fill="#3b6ea8" x="{x + 1:.1f}" y="{y:.1f}" '
            f'width="{max(slot - 2, 1):.1f}" height="{height:.1f}"><title>{label}</title></rect>'
        )
        # Every seventh date (and the last) under the axis keeps labels from overlapping.
        last = index == len(counts) - 1
        if (index % 7 == 0 and len(counts) - index > 3) or last:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - _BOTTOM + 14}" '
                f'text-anchor="middle" {_TEXT}>'
                f"{escape(entry.day.strftime('%m-%d'))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
