"""The trend of ``latest.md``: the counts of the last runs as a Mermaid ``xychart-beta`` line
chart, which GitHub draws in place of the code block.

Only dates and numbers go into the chart (nothing from the catalogue or the web), and a date
that is not ``YYYY-MM-DD`` is left out rather than escaped: Mermaid has no escape for a label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from crawler.model import TrendPoint

# The lines, in the order drawn, with their colour (xychart-beta draws no legend of its own).
LINES = (
    ("ok", "#2da44e", "green"),
    ("broken", "#cf222e", "red"),
    ("redirected", "#bf8700", "yellow"),
    ("unverified", "#8c959f", "grey"),
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONFIG = (
    '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "'
    + ", ".join(colour for _, colour, _ in LINES)
    + '"}}}}%%'
)


def trend_section(trend: Sequence[TrendPoint]) -> list[str]:
    """The "Health over time" section; nothing before the first run that counted links."""
    points = [p for p in trend if _DATE.fullmatch(p.date)]
    if not points:
        return []
    top = max(max(int(getattr(p, name)) for name, _, _ in LINES) for p in points)
    dates = ", ".join(f'"{p.date}"' for p in points)
    runs = f"{len(points)} run" if len(points) == 1 else f"{len(points)} runs"
    legend = " · ".join(f"{name} ({word})" for name, _, word in LINES)
    return [
        f"## Health over time (last {runs})",
        "",
        "```mermaid",
        _CONFIG,
        "xychart-beta",
        '    title "Links by status"',
        f"    x-axis [{dates}]",
        f'    y-axis "links" 0 --> {max(top, 1)}',
        *(
            "    line [" + ", ".join(str(int(getattr(p, name))) for p in points) + "]"
            for name, _, _ in LINES
        ),
        "```",
        "",
        f"Lines: {legend}. One point per day with a run; a re-run the same day replaces it.",
    ]
