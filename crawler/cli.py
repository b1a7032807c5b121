"""The command line: the only module that knows about the terminal.

Exit codes (also in ``--help`` and README):
  0  every link verified healthy
  1  broken or duplicated links, or links unverified for --fail-after runs in a row
  2  invalid catalogue or usage, or the reports cannot be written
  3  nothing broken, but some links could not be verified (no network, skipped)
  4  the crawler crashed (a bug): no verdict; the previous reports are left untouched
  130 interrupted (Ctrl-C); the previous reports are left untouched
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

import click

from crawler import __version__
from crawler.catalog import CatalogError
from crawler.model import SEVERITY, Finding, Link, LinkResult, RunReport, Status
from crawler.pipeline import (
    EXIT_CRASHED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    CheckOptions,
    Shard,
    exit_code,
    run_check,
)
from crawler.report.escape import terminal_safe
from crawler.services.base import HostLimits, Settings, link_budget

EXIT_CODES_HELP = """\b
Exit codes:
  0  every link verified healthy
  1  broken or duplicated links (or unverified for --fail-after runs in a row)
  2  invalid catalogue or usage, or the reports cannot be written
  3  nothing broken, but some links could not be verified (no network, skipped)
  4  the crawler crashed (a bug; no verdict on the links)
  130  interrupted; previous reports left untouched"""

MAX_WARNINGS_SHOWN = 20
PROBLEM_STATUSES = (Status.BROKEN, Status.REDIRECTED, Status.UNVERIFIED)
FIELD_NAMES = {"slides": "slides", "video": "video", "presenter": "homepage"}
REPORT_BUGS_AT = "https://github.com/ConstantPark/DL_Compiler/issues"
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it
# click.Context.meta keys (shared by a command's context and the group's): -v given; whether
# this run replaced the reports (None: a command that writes none).
VERBOSE = "crawler.verbose"
WRITTEN = "crawler.written"


report_dir_option = click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Where latest.md, latest.json and badge.json are written; its latest.json is the "
    "previous run (history).",
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print only problems and the summary line."
)


class _JobsType(click.ParamType):
    """``--jobs``: a count of processes, or ``auto`` (None: decided from the cores)."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or value == "auto":
            return None
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= 64:
            self.fail(f"takes 1 to 64 or auto (got {value!r:.40})", param, ctx)
        return count


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


class _Commands(click.Group):
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


class _Seconds(click.FloatRange):
    """A number of seconds within bounds. click's ``FloatRange`` lets NaN through (it compares
    false to both bounds), and a NaN timeout or interval switches the limit off."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r:.40} is not a number of seconds", param, ctx)
        return seconds


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crawler")
def main() -> None:
    """Link-health and metadata crawler for a catalogue of talks."""


@main.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path),  # (a directory, a FIFO…: refused in one line by load)
    default=Path("catalog.yaml"),
    show_default=True,
    help="The catalogue to check.",
)
@report_dir_option
@click.option("--offline", is_flag=True, help="Check the catalogue only; touch no network.")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow links to loopback, private and link-local addresses (refused by default).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=256,
    show_default=True,
    help="Requests in flight in all, over all hosts (each also held to --per-host).",
)
@click.option(
    "--per-host",
    type=click.IntRange(1, 100),
    default=4,
    show_default=True,
    help="Requests in flight per host.",
)
@click.option(
    "--min-interval",
    type=_Seconds(0, 60),
    default=0.0,
    show_default=True,
    help="Seconds between request starts to one host (YouTube, GitHub and SlideShare have "
    "gentler built-in limits).",
)
@click.option(
    "--host-limit",
    "host_limit_texts",
    metavar="DOMAIN=N[/S]",
    multiple=True,
    envvar="CRAWLER_HOST_LIMITS",
    show_envvar=True,
    help="At most N requests in flight to DOMAIN and its subdomains, S seconds apart; "
    "replaces --per-host, --min-interval and the built-in limits there (repeatable, or "
    "space-separated in the environment; e.g. github.com=8/0.1 with a token, or "
    "youtube.com=1/3).",
)
@click.option(
    "--timeout",
    type=_Seconds(0.1, 600),
    default=20.0,
    show_default=True,
    help="Seconds to wait for a connection or a read; one link may take 4 x this + 10 s in "
    "all (retries, redirects and Retry-After pauses included).",
)
@click.option(
    "--fail-after",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Escalate a link to a problem (exit 1) once it stayed unverified this many runs in "
    "a row; 1 never escalates (unverified alone exits 3).",
)
@click.option(
    "--shard",
    "shard_text",
    metavar="K/N",
    default=None,
    help="Check only the K-th of N slices of the links (a partial report; see merge).",
)
@click.option(
    "--jobs",
    type=_JobsType(),
    metavar="N|auto",
    default="auto",
    show_default=True,
    help="Check in N processes, each with its own hosts (one process is CPU-bound at about a "
    "thousand links a second); auto: one per usable core (at most 8), at least 10,000 links "
    "each.",
)
@click.option(
    "--video-workers",
    type=click.IntRange(1, 16),
    default=2,
    show_default=True,
    help="yt-dlp worker processes (started on the first video; with --jobs, shared out).",
)
@click.option(
    "--no-report",
    is_flag=True,
    help="Write no report files (the previous report is still read as history).",
)
@quiet_option
@click.option(
    "-v", "--verbose", is_flag=True, help="Print every link, debug logs and a crash's traceback."
)
def check(
    catalog_path: Path,
    report_dir: Path,
    offline: bool,
    allow_private: bool,
    concurrency: int,
    per_host: int,
    min_interval: float,
    host_limit_texts: tuple[str, ...],
    timeout: float,
    fail_after: int,
    shard_text: str | None,
    jobs: int | None,
    video_workers: int,
    no_report: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Check every link of the catalogue and write the reports."""
    ctx = click.get_current_context()
    ctx.meta[VERBOSE] = verbose
    ctx.meta[WRITTEN] = False if shard_text or not no_report else None
    if quiet and verbose:
        raise click.UsageError("-q and -v cannot be used together")
    if no_report and shard_text:
        raise click.UsageError("--no-report cannot be used with --shard (its output is a report)")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        shard = Shard.parse(shard_text) if shard_text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    try:
        host_limits = tuple(HostLimits.parse(text) for text in host_limit_texts)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host-limit") from None
    settings = Settings(
        concurrency=concurrency,
        per_host=per_host,
        min_interval=min_interval,
        host_limits=host_limits,
        connect_timeout=timeout,
        read_timeout=timeout,
        link_timeout=link_budget(timeout),
        allow_private=allow_private,
        github_token=os.environ.get("GITHUB_TOKEN") or None,
        video_workers=video_workers,
    )
    options = CheckOptions(
        catalog_path=catalog_path,
        report_dir=report_dir,
        offline=offline,
        fail_after=fail_after,
        shard=shard,
        settings=settings,
        jobs=jobs,
    )
    out = Output(quiet=quiet, verbose=verbose)
    try:
        with out.progress() as progress:
            report = run_check(
                options,
                on_plan=progress.planned,
                on_start=progress.started,
                on_result=progress.finished,
            )
    except CatalogError as exc:
        for line in exc.problems:
            click.echo(terminal_safe(line), err=True)
        n = len(exc.problems)
        click.echo(
            f"error: invalid catalogue ({n} problem{'s' * (n != 1)}); no report written",
            err=True,
        )
        sys.exit(EXIT_INVALID)

    if shard is not None:
        from crawler.report import atomic_write
        from crawler.report import json as json_report

        path = report_dir / f"shard-{shard.index}-of-{shard.total}.json"
        try:
            atomic_write(path, json_report.chunks(report))  # streamed: 100 MB at 100k links
        except OSError as exc:
            click.echo(f"error: cannot write {path}: {_why(exc)}", err=True)
            sys.exit(EXIT_INVALID)
        ctx.meta[WRITTEN] = True
        out.summary(report, [path])
        sys.exit(exit_code(report))
    publish(report, None if no_report else report_dir, out)


def publish(report: RunReport, report_dir: Path | None, out: Output) -> None:
    """Write the reports (unless ``report_dir`` is None), tell GitHub, print the summary, exit."""
    from crawler.report import WrittenThenInterrupted, write_reports
    from crawler.report.github import annotations, write_step_summary

    ctx = click.get_current_context()
    try:
        written = write_reports(report, report_dir) if report_dir is not None else []
    except OSError as exc:
        # Nothing was replaced (see report.write_reports): say so, in one line.
        click.echo(
            f"error: cannot write the reports to {report_dir}: {_why(exc)}; "
            "the previous reports are untouched",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    except WrittenThenInterrupted:
        ctx.meta[WRITTEN] = True
        raise
    if report_dir is not None:
        ctx.meta[WRITTEN] = True
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        summary_path = Path(os.environ["GITHUB_STEP_SUMMARY"])
        try:
            write_step_summary(report, summary_path)
        except OSError as exc:  # a nicety of the job page: it must not change the verdict
            click.echo(
                f"warning: cannot write the job summary {summary_path}: {_why(exc)}", err=True
            )
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(report):
            click.echo(line)
    out.summary(report, written)
    sys.exit(exit_code(report))


@main.command(epilog=EXIT_CODES_HELP)
@click.argument(
    "parts", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@report_dir_option
@quiet_option
def merge(parts: tuple[Path, ...], report_dir: Path, quiet: bool) -> None:
    """Merge the partial reports of `check --shard K/N` runs into one report."""
    from crawler.pipeline import merge_parts

    click.get_current_context().meta[WRITTEN] = False
    try:
        report = merge_parts(parts, report_dir)
    except ValueError as exc:
        click.echo(f"error: cannot merge: {terminal_safe(str(exc))}", err=True)
        sys.exit(EXIT_INVALID)
    publish(report, report_dir, Output(quiet=quiet, verbose=False))


@main.command("import")
@click.argument("readme", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the catalogue here (atomically) instead of to standard output.",
)
def import_(readme: Path, output: Path | None) -> None:
    """Import the study README's sessions into a catalogue (YAML)."""
    from crawler.importer import import_readme, to_yaml

    try:
        result = import_readme(readme)
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        click.echo(
            f"error: {readme}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
            "save the file as UTF-8 and import it again",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    except OSError as exc:
        click.echo(f"error: cannot read {readme}: {_why(exc)}", err=True)
        sys.exit(EXIT_INVALID)
    for warning in result.warnings:
        click.echo(f"warning: {terminal_safe(warning)}", err=True)
    text = to_yaml(result)
    if output is None:
        click.echo(text, nl=False)
    else:
        from crawler.report import atomic_write

        try:
            atomic_write(output, text)
        except OSError as exc:
            click.echo(
                f"error: cannot write {output}: {_why(exc)}; nothing was written "
                "(choose a writable path with -o)",
                err=True,
            )
            sys.exit(EXIT_INVALID)
        click.echo(f"{output}: {len(result.sessions)} sessions", err=True)


def _why(exc: OSError) -> str:
    """An OS error in words; a file where a folder must be made says "File exists" (mkdir)."""
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        return f"a file is in the way of the folder {exc.filename}"
    return exc.strerror or str(exc)


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
            f"{r.status.value.upper():<10} {FIELD_NAMES[link.field]:<8} {where[:60]:<60} "
            f"{link.url} — {r.plain_detail}"
        )
        return terminal_safe(line)

    def summary(self, report: RunReport, written: list[Path]) -> None:
        counts = Counter(r.status for r in report.results)
        errors = [f for f in report.findings if f.severity == "error"]
        warnings = [f for f in report.findings if f.severity != "error"]
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
        order = [Status.OK, *sorted(set(Status) - {Status.OK}, key=SEVERITY.get)]
        parts = [f"{counts.get(s, 0)} {s.value}" for s in order]
        click.echo(
            f"{len(report.sessions)} sessions, {len(report.results)} links: "
            + ", ".join(parts)
            + f"; {_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}"
            + (" (offline: links not checked)" if report.offline else "")
        )
        if not self.quiet and written:
            click.echo("reports: " + ", ".join(str(p) for p in written))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def finding_line(f: Finding, catalog_path: str) -> str:
    where = f"{catalog_path}:{f.line}" if f.line else catalog_path
    what = f" {FIELD_NAMES.get(f.field or '', f.field)}" if f.field else ""
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
        self.bar = None
        self.task = None
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
