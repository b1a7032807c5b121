"""How sizes and durations are written for people, the same in every message and report."""

from __future__ import annotations


def human_size(size: int | None) -> str:
    """Decimal units as file browsers show them: ``812 B``, ``1.5 kB``, ``2.3 MB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
