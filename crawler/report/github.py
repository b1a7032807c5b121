"""GitHub Actions output: the job's step summary and inline annotations on the catalogue.

Annotations are workflow commands printed on stdout
(https://docs.github.com/actions/reference/workflow-commands-for-github-actions):
``::error file=catalog.yaml,line=12,title=…::message``. GitHub shows only the first few of each
type per step, which is why they come worst first.
"""

from pathlib import Path

from crawler.model import FindingKind, RunReport, Severity, Status
from crawler.report import escape, markdown
from crawler.report.common import FIELD_LABELS, Problem, problems

# Rows of "Needs attention" in the step summary (GitHub caps a summary at 1 MiB).
SUMMARY_ROWS = 200


def step_summary(report: RunReport) -> str:
    """The header and the "Needs attention" table, as GitHub-flavoured Markdown."""
    sections = [markdown.header(report), markdown.attention(report, limit=SUMMARY_ROWS)]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def write_step_summary(report: RunReport, path: Path) -> None:
    """Append the step summary to ``path`` (``$GITHUB_STEP_SUMMARY``), as GitHub expects."""
    path = Path(path)
    text = step_summary(report)
    with path.open("a", encoding="utf-8", newline="\n") as fh:
        # Keep a blank line between this and whatever an earlier step appended.
        if path.stat().st_size:
            fh.write("\n")
        fh.write(text)


def _command(level: Severity, file: str, line: int, title: str, message: str) -> str:
    props = [f"file={escape.gh_property(file)}"]
    if line > 0:
        props.append(f"line={line}")
    props.append(f"title={escape.gh_property(escape.terminal_safe(title))}")
    return f"::{level} {','.join(props)}::{escape.gh_data(escape.terminal_safe(message))}"


def _annotation(report: RunReport, p: Problem) -> str:
    label = FIELD_LABELS.get(p.field, "") if p.field else ""
    title = f"{p.kind} {label} link" if label and p.kind in _LINK_KINDS else p.kind
    where = f"{label} {p.url}: " if label and p.url else ""
    message = f'{p.session_date} "{p.session_title}": {where}{p.what}'
    if p.fix:
        message += f" — fix: {p.fix}" + (f" {p.fix_url}" if p.fix_url else "")
    elif p.fix_url:
        message += f" — use {p.fix_url}"
    return _command(p.severity, report.catalog_path, p.line, title, message)


_LINK_KINDS = {
    Status.BROKEN,
    Status.REDIRECTED,
    Status.UNVERIFIED,
    FindingKind.DUPLICATE,
    FindingKind.ESCALATED,
}


def annotations(report: RunReport) -> list[str]:
    """One workflow command per problem, worst first.

    ``::error`` for broken and duplicated links and error findings (wrong video, escalated),
    ``::warning`` for redirected links and warning findings, ``::notice`` for unverified links.
    When the network was unreachable, one warning says so instead of one notice per link.
    """
    lines = [_annotation(report, p) for p in problems(report)]
    unreachable = sum(
        1 for r in report.results if r.status is Status.UNVERIFIED and r.network_error
    )
    if report.network_unreachable and unreachable:
        lines.insert(
            0,
            _command(
                Severity.WARNING,
                report.catalog_path,
                0,
                "network unreachable",
                f"could not verify {unreachable} links: network unreachable",
            ),
        )
    return lines
