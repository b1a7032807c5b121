"""The command line: the commands, their options and the exit codes.

What a run shows on the terminal (progress, problem lines, the summary, the last line of a
crash or a Ctrl-C) is ``console.py``'s; the two are the only modules that print.

The exit codes: ``EXIT_CODES_HELP`` and ``FIX_EXIT_CODES`` (shown by ``--help``, and in README).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from crawler import __version__
from crawler.catalog import CatalogError
from crawler.config import CheckOptions, HostLimits, Settings, Shard, link_budget, youtube_api_key
from crawler.console import VERBOSE, WRITTEN, Commands, Output, fixed, refused, why
from crawler.model import RunReport
from crawler.options import CountOrAuto, Seconds, catalog_option, quiet_option, report_dir_option
from crawler.pipeline import EXIT_INVALID, exit_code, run_check
from crawler.repair import Refused, apply_fixes
from crawler.report.escape import terminal_safe

EXIT_CODES_HELP = """\b
Exit codes:
  0  every link verified healthy
  1  broken or duplicated links (or unverified for --fail-after runs in a row)
  2  invalid catalogue or usage, or the reports cannot be written
  3  nothing broken, but some links could not be verified (no network, skipped)
  4  the crawler crashed (a bug; no verdict on the links)
  130  interrupted; previous reports left untouched"""
FIX_EXIT_CODES = "Exit codes: 0 fixes applied, shown, or none to apply; 2 refused, nothing written"


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crawler")
def main() -> None:
    """Link-health and metadata crawler for a catalogue of talks."""


@main.command(epilog=EXIT_CODES_HELP)
@catalog_option
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
    type=Seconds(0, 60),
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
    type=Seconds(0.1, 600),
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
    type=CountOrAuto(64),
    metavar="N|auto",
    default="auto",
    show_default=True,
    help="Check in N processes, each with its own hosts (one process is CPU-bound at about a "
    "thousand links a second); auto: one per usable core (at most 8), at least 10,000 links "
    "each.",
)
@click.option(
    "--video-workers",
    type=CountOrAuto(16),
    metavar="N|auto",
    default="auto",
    show_default=True,
    help="yt-dlp worker processes, started as videos need them (with --jobs, shared out); "
    "auto: one per 150 links that may need yt-dlp, 2 to 8, no more than their hosts take at "
    "once.",
)
@click.option(
    "--youtube-api-key-env",
    metavar="NAME",
    default=None,
    help="The variable holding a YouTube Data API key [default: YOUTUBE_API_KEY, when set].",
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
    video_workers: int | None,
    youtube_api_key_env: str | None,
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
    try:
        api_key = youtube_api_key(youtube_api_key_env)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--youtube-api-key-env") from None
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
        youtube_api_key=api_key,
    )
    options = CheckOptions(
        catalog_path=catalog_path,
        report_dir=report_dir,
        offline=offline,
        fail_after=fail_after,
        shard=shard,
        settings=settings,
        jobs=jobs,
        video_workers=video_workers,
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
            click.echo(f"error: cannot write {path}: {why(exc)}", err=True)
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
            f"error: cannot write the reports to {report_dir}: {why(exc)}; "
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
                f"warning: cannot write the job summary {summary_path}: {why(exc)}", err=True
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


@main.command("fix", epilog=FIX_EXIT_CODES)
@catalog_option
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=Path("reports/latest.json"),
    show_default=True,
    help="The report of a `check` of that very catalogue.",
)
@click.option("--dry-run", is_flag=True, help="Print the changes as a unified diff; write nothing.")
@click.option("--include-suggested", is_flag=True, help="Apply suggested fixes too.")
def fix(catalog_path: Path, report_path: Path, dry_run: bool, include_suggested: bool) -> None:
    """Write the report's fixes into the catalogue, every other character unchanged."""
    try:
        outcome = apply_fixes(catalog_path, report_path, include_suggested, dry_run)
    except Refused as exc:
        refused(str(exc))
    fixed(outcome, dry_run=dry_run)


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
        click.echo(f"error: cannot read {readme}: {why(exc)}", err=True)
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
                f"error: cannot write {output}: {why(exc)}; nothing was written "
                "(choose a writable path with -o)",
                err=True,
            )
            sys.exit(EXIT_INVALID)
        click.echo(f"{output}: {len(result.sessions)} sessions", err=True)
