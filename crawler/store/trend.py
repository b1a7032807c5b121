"""The ``trend`` of a report read back: the counts of the last runs (``history.trend``).

Strict like the rest of ``crawler/store/``: the points are drawn into ``latest.md`` as they
are, so only a date ``YYYY-MM-DD`` and whole numbers may come through; anything else is a
``ValueError`` naming the place.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from crawler.model import TrendPoint

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
COUNTS = ("ok", "broken", "redirected", "unverified")


def _date(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"{where}: expected a date YYYY-MM-DD, got {value!r:.60}")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a real day") from None
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: expected a whole number, 0 or more, got {value!r:.60}")
    return value


def read_trend(value: Any, where: str = "report.trend") -> list[TrendPoint]:
    """The points of a report's ``trend`` (absent in reports written before it: ``None``)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {value!r:.60}")
    points = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{at}: expected an object, got {type(item).__name__}")
        missing = [key for key in ("date", *COUNTS) if key not in item]
        if missing:
            raise ValueError(f"{at}.{missing[0]}: missing")
        counts = {key: _count(item[key], f"{at}.{key}") for key in COUNTS}
        points.append(TrendPoint(date=_date(item["date"], f"{at}.date"), **counts))
    return points
