"""The CLI's shared options and parameter types (``cli`` defines the commands)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

report_dir_option = click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Where latest.md, latest.json and badge.json are written; its latest.json is the "
    "previous run (history).",
)
catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path),  # (a directory, a FIFO…: refused in one line by load)
    default=Path("catalog.yaml"),
    show_default=True,
    help="The catalogue.",
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print only problems and the summary line."
)


# Unsubscripted: click.ParamType is generic only from click 8.4; the 8.1-8.3 we allow would fail.
class CountOrAuto(click.ParamType):  # type: ignore[type-arg]
    """A count from 1 to ``maximum``, or ``auto`` (None: the run decides)."""

    name = "N|auto"

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or value == "auto":
            return None
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= self.maximum:
            self.fail(f"takes 1 to {self.maximum} or auto (got {value!r:.40})", param, ctx)
        return count


class Seconds(click.FloatRange):
    """A number of seconds within bounds. click's ``FloatRange`` lets NaN through (it compares
    false to both bounds), and a NaN timeout or interval switches the limit off."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r:.40} is not a number of seconds", param, ctx)
        return seconds
