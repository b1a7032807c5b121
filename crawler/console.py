"""The terminal output: a run's progress, its problem lines as they are found, its summary,
and the last line of a command that ends otherwise (interrupted, crashed, a closed pipe).

On a terminal a progress bar (rich) on stderr; elsewhere (CI logs) one line per problem.
``cli.py`` and this module are the only ones that print.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler.model import STATUS_RANK, Finding, Link, LinkResult, RunReport, Severity, Status
from crawler.pipeline import EXIT_CRASHED, EXIT_INTERRUPTED, EXIT_INVALID
from crawler.report.common import FIELD_LABELS, FIX_SOURCES
from crawler.report.escape import terminal_safe

if TYPE_CHECKING:
    from crawler.repair import Outcome

MAX_WARNINGS_SHOWN = 20
PROBLEM_STATUSES = (Status.BROKEN, Status.REDIRECTED, Status.UNVERIFIED)
REPORT_BUGS_AT = "https://github.com/ConstantPark/DL_Compiler/issues"
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it
# click.Context.meta keys (shared by a command's context and the group's): -v given; whether
# this run replaced the reports (None: a command that writes none).
VERBOSE = "crawler.verbose"
WRITTEN = "crawler.written"


class Output:
    """Progress and result lines: a rich bar on a terminal, plain lines elsewhere (CI logs)."""

    def __init__(self, *, quiet: bool, verbose: bool):
        self.quiet = quiet
        self.verbose = verbose
        self.tty = sys.stderr.isatty() and not quiet

    def progress(self) -> _Progress:
        return _Progress(self)

    def result_line(self, r: LinkResult) -> str:
        link = r.link
        where = f"{link.session_date} {link.session_title}"
        line = (
            f"{r.status.value.upper():<10} {FIELD_LABELS[link.field]:<8} {where[:60]:<60} "
            f"{link.url} — {r.plain_detail}"
        )
        return terminal_safe(line)

    def summary(self, report: RunReport, written: list[Path]) -> None:
        counts = Counter(r.status for r in report.results)
        errors = [f for f in report.findings if f.severity == Severity.ERROR]
        warnings = [f for f in report.findings if f.severity != Severity.ERROR]
        # Quiet keeps the problems (errors) and drops the warnings; a big catalogue's thousands
        # of warnings are summed up after the first few (all of them are in the reports).
        for f in sorted(errors, key=lambda f: f.line):
            click.echo(finding_line(f, report.catalog_path))
        if not self.quiet:
            limit = len(warnings) if self.verbose else MAX_WARNINGS_SHOWN
            for f in sorted(warnings, key=lambda f: f.line)[:limit]:
                click.echo(finding_line(f, report.catalog_path))
            if len(warnings) > limit:
                click.echo(
                    f"… and {len(warnings) - limit} more warnings (-v or the report lists all)"
                )
        if report.network_unreachable:
            checked = sum(1 for r in report.results if r.status is not Status.SKIPPED)
            click.echo(
                f"could not verify: network unreachable ({checked} links not checked; "
                "none is reported broken)"
            )
        for note in report.notes:
            click.echo(terminal_safe(note))
        skipped = [r for r in report.results if r.status is Status.SKIPPED]
        if skipped and not report.offline:  # why the run is not "healthy" (exit 3)
            first = skipped[0]
            click.echo(
                terminal_safe(
                    f"could not verify: {_plural(len(skipped), 'link')} skipped, e.g. "
                    f"{first.link.url} ({first.detail})"
                )
            )
        # ok first, then worst first: "46 links: 40 ok, 2 broken, 1 redirected, …".
        order = [Status.OK, *sorted(set(Status) - {Status.OK}, key=STATUS_RANK.__getitem__)]
        parts = [f"{counts.get(s, 0)} {s.value}" for s in order]
        click.echo(
            f"{len(report.sessions)} sessions, {len(report.results)} links: "
            + ", ".join(parts)
            + f"; {_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}"
            + (" (offline: links not checked)" if report.offline else "")
        )
        if not self.quiet and written:
            click.echo("reports: " + ", ".join(str(p) for p in written))


def refused(message: str) -> NoReturn:
    """``crawler fix`` wrote nothing: why, and exit 2."""
    _stop(f"error: {terminal_safe(message, keep_newlines=True)}", EXIT_INVALID)


def fixed(outcome: Outcome, *, dry_run: bool) -> None:
    """What ``crawler fix`` changed: the diff (``--dry-run``), or one line per fix applied."""
    if dry_run:
        click.echo(terminal_safe(outcome.diff, keep_newlines=True), nl=False)
    else:
        for r in outcome.applied:
            assert r.fix is not None  # ``chosen`` picks results with a fix
            line = (
                f"{outcome.catalog}:{r.link.line}: {FIELD_LABELS[r.link.field]} {r.link.url} → "
                f"{r.fix.url} ({r.fix.kind}: {FIX_SOURCES[r.fix.source]})"
            )
            click.echo(terminal_safe(line))
    done = "would apply" if dry_run else "applied"
    summary = f"{outcome.catalog}: {_plural(len(outcome.applied), 'fix')} {done}"
    if not outcome.applied:
        summary = f"{outcome.catalog}: nothing to fix"
    if outcome.suggested_left:
        summary += (
            f"; {_plural(outcome.suggested_left, 'suggested fix')} left for a person to confirm "
            "(--include-suggested applies them)"
        )
    click.echo(summary, err=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{('es' if word.endswith('x') else 's') * (n != 1)}"


def finding_line(f: Finding, catalog_path: str) -> str:
    where = f"{catalog_path}:{f.line}" if f.line else catalog_path
    what = f" {FIELD_LABELS.get(f.field, f.field)}" if f.field else ""
    url = f" {f.url}" if f.url else ""
    fix = f" (fix: {f.fix})" if f.fix else ""
    text = (
        f'{where}: {f.severity}: {f.kind}: {f.session_date} "{f.session_title}"{what}{url}'
        f" — {f.message}{fix}"
    )
    return terminal_safe(text)


class _Progress:
    """Counts links as they finish; draws a bar on a terminal, prints problems otherwise."""

    def __init__(self, out: Output):
        self.out = out
        self.bar: Any = None  # a rich Progress, on a terminal
        self.task: Any = None
        self.failures = 0

    def __enter__(self) -> _Progress:
        if self.out.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[host]}", style="dim"),
                TextColumn("[red]{task.fields[failures]} failing"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("check", total=None, host="", failures=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def planned(self, total: int, processes: int = 1) -> None:
        if processes > 1 and not self.out.quiet:
            line = f"checking in {processes} processes, each with its own hosts…"
            if self.bar is not None:
                self.bar.console.print(line, markup=False, highlight=False)
            else:
                click.echo(line, err=True)
        if self.bar is not None:
            self.bar.update(self.task, total=total)

    def started(self, link: Link) -> None:
        if self.bar is not None:
            from urllib.parse import urlsplit

            host = terminal_safe(urlsplit(link.url).hostname or "")
            self.bar.update(self.task, host=host)

    def finished(self, r: LinkResult) -> None:
        problem = r.status in PROBLEM_STATUSES
        self.failures += r.status in (Status.BROKEN, Status.UNVERIFIED)
        if self.bar is not None:
            self.bar.update(self.task, advance=1, failures=self.failures)
            if problem and not r.network_error:
                self.bar.console.print(self.out.result_line(r), markup=False, highlight=False)
        elif self.out.verbose or (problem and not r.network_error and not self.out.quiet):
            click.echo(self.out.result_line(r), err=True)


def why(exc: OSError) -> str:
    """An OS error in words; a file where a folder must be made says "File exists" (mkdir)."""
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        return f"a file is in the way of the folder {exc.filename}"
    return exc.strerror or str(exc)


def _stop(message: str, code: int) -> NoReturn:
    """Print the last line and exit with ``code``; a second Ctrl-C while printing changes
    nothing (it would reach click as "Aborted!", exit 1)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        click.echo(message, err=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    sys.exit(code)


def _about_reports(ctx: click.Context) -> str:
    written = ctx.meta.get(WRITTEN)
    if written is None:
        return ""
    if written:
        return "; the reports had been written"
    return "; no report written, the previous reports are untouched"


class Commands(click.Group):
    """Every command, in every phase: Ctrl-C exits 130 and an unexpected exception 4 (a bug,
    not a verdict on the links: the nightly job then neither commits nor opens an issue)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors and click's own exits (Exception subclasses too)
        except KeyboardInterrupt:
            _stop("interrupted" + _about_reports(ctx), EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader of our output went away (`crawler check | head`): not a bug. Exit as a
            # shell reports a process killed by SIGPIPE, with nothing more written to that pipe.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            # The traceback with -v, and in CI logs (GitHub Actions sets GITHUB_ACTIONS):
            # there -v would print every link, and the nightly's log is all a maintainer has.
            if ctx.meta.get(VERBOSE) or os.environ.get("GITHUB_ACTIONS") == "true":
                click.echo(traceback.format_exc().rstrip(), err=True)
            what = terminal_safe(f"{type(exc).__name__}: {exc}")[:500]
            _stop(
                f"error: the crawler crashed ({what}); this is a bug, please report it at "
                f"{REPORT_BUGS_AT} with the output of the same command with -v"
                + _about_reports(ctx),
                EXIT_CRASHED,
            )
