"""``crawler fix``: the report's fixes written into the catalogue it was made from.

Only the URLs that have a fix change, character for character in place (``catalog/rewrite.py``);
the result is read back and checked before it replaces the file, atomically. A catalogue that
changed since the report was written, or another catalogue's report, is refused: the report's
positions and URLs would not be this file's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from crawler.catalog import CatalogError, parse
from crawler.catalog.reader import load_with_bytes
from crawler.catalog.rewrite import Edit, RewriteError, rewrite
from crawler.links import iter_links
from crawler.model import FixKind, Link, LinkResult, RunReport
from crawler.store import decode


class Refused(Exception):
    """The catalogue is left as it is; the message says why and what to do."""


@dataclass(slots=True)
class Outcome:
    """What ``fix`` did (or, with ``--dry-run``, would do)."""

    catalog: Path
    applied: list[LinkResult] = field(default_factory=list)  # each with its fix
    suggested_left: int = 0  # suggested fixes not applied (no --include-suggested)
    diff: str = ""  # unified diff of the catalogue, empty when nothing changes
    written: bool = False


def chosen(report: RunReport, *, include_suggested: bool) -> tuple[list[LinkResult], int]:
    """The results whose fix is to be applied, and how many suggested ones are left out."""
    picked, left = [], 0
    for r in report.results:
        if r.fix is None or r.fix.url == r.link.url:
            continue
        if r.fix.kind is FixKind.SUGGESTED and not include_suggested:
            left += 1
            continue
        picked.append(r)
    return picked, left


def _same_catalogue(report: RunReport, report_path: Path, catalog: Path, sha256: str) -> None:
    if report.catalog_sha256 == sha256:
        return
    if report.catalog_sha256 is None:
        raise Refused(
            f"{report_path} does not record which catalogue it checked (an older crawler wrote "
            f"it): run `crawler check --catalog {catalog}` again, then `crawler fix`"
        )
    if Path(report.catalog_path).resolve() != catalog.resolve():
        raise Refused(
            f"{report_path} is the report of another catalogue ({report.catalog_path}), not of "
            f"{catalog}: give --catalog and --report of one run"
        )
    raise Refused(
        f"{catalog} changed since {report_path} was written ({report.generated_at}): its "
        f"positions and URLs may not be the file's any more; run `crawler check --catalog "
        f"{catalog}` again, then `crawler fix`"
    )


def _verify(new_text: str, old: list[Link], edits: list[Edit], catalog: Path) -> None:
    """The rewritten catalogue must read back valid, with exactly the edited URLs changed."""
    try:
        again = parse(new_text, path=catalog, display_name=catalog.name)
    except CatalogError as exc:  # pragma: no cover - rewrite keeps scalars valid
        raise Refused(f"{catalog}: the fixed catalogue would not be valid: {exc}") from None
    new_at = {(e.line, e.column): e.new for e in edits}
    expected = [new_at.get((link.line, link.column), link.url) for link in old]
    if [link.url for link in iter_links(again)] != expected:  # pragma: no cover - a bug
        raise Refused(f"{catalog}: the fixed catalogue would not read back as intended")


def unified_diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    # A last line without its newline still ends the diff's line (as diff(1) marks it).
    return "".join(
        ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines
    )


def apply_fixes(
    catalog: Path, report_path: Path, include_suggested: bool = False, dry_run: bool = False
) -> Outcome:
    """Write the report's fixes into ``catalog`` (nothing with ``dry_run``); ``Refused`` says
    why nothing was written."""
    try:
        report = decode.load(report_path)
    except ValueError as exc:
        raise Refused(f"{exc}; run `crawler check` to write one") from None
    try:
        parsed, data = load_with_bytes(catalog)
    except CatalogError as exc:
        raise Refused("\n".join(exc.problems)) from None
    _same_catalogue(report, report_path, catalog, parsed.sha256 or "")
    picked, left = chosen(report, include_suggested=include_suggested)
    outcome = Outcome(catalog=catalog, applied=picked, suggested_left=left)
    if not picked:
        return outcome
    edits = [Edit(r.link.line, r.link.column, r.link.url, r.fix.url) for r in picked if r.fix]
    text = data.decode("utf-8")
    try:
        new_text = rewrite(text, edits)
    except RewriteError as exc:
        raise Refused(f"{catalog}: {exc}; nothing was changed") from None
    _verify(new_text, list(iter_links(parsed)), edits, catalog)
    outcome.diff = unified_diff(text, new_text, catalog.name)
    if not dry_run:
        from crawler.report import atomic_write

        try:
            atomic_write(catalog, new_text)
        except OSError as exc:
            raise Refused(
                f"cannot write {catalog}: {exc.strerror or exc}; it is unchanged"
            ) from None
        outcome.written = True
    return outcome
