"""Read what the nightly workflow needs out of reports/latest.json.

Called by commit-reports.sh and tracking-issue.sh; standard library only, so it runs on the
runner's own python3 in jobs that do not install the crawler.

    report_facts.py changed OLD NEW      exit 0 if NEW says something OLD did not, else 1
    report_facts.py commit-message JSON  "reports: 2 newly broken, 1 recovered" + a body
                                         ("refresh" when nothing listed changed, "first run")
    report_facts.py count KEY JSON       how many entries changes.KEY has
    report_facts.py issue-body JSON      body of a new tracking issue
    report_facts.py comment-body JSON    comment for newly broken links on the open issue
    report_facts.py healthy-body JSON    comment closing the issue once all is healthy
    report_facts.py fix-pr-body JSON     body of the fix pull request: the certain fixes

A missing or unreadable JSON counts as an empty report, so a crawler that died before writing
one still gets an issue body that says so instead of a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# Keys that differ on every run without anything having changed: a report that differs only
# in these is not committed (otherwise every night would make a commit). The trend gains a
# point every night: it is kept up to date by the nights that commit for another reason.
VOLATILE_TOP = ("generated_at", "duration_seconds", "trend")
VOLATILE_CHANGES = ("baseline_at",)

# A tracking issue lists at most this many links; the full list is in the report.
MAX_LISTED = 50

CHANGE_WORDS = (
    ("newly_broken", "newly broken", "newly broken"),
    ("recovered", "recovered", "recovered"),
    ("new_sessions", "new session", "new sessions"),
    ("removed_sessions", "removed session", "removed sessions"),
)


def load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def changes(report: dict[str, Any]) -> dict[str, Any]:
    value = report.get("changes")
    return value if isinstance(value, dict) else {}


def entries(report: dict[str, Any], key: str) -> list[Any]:
    value = changes(report).get(key)
    return value if isinstance(value, list) else []


def stable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what changes on every run."""
    kept = {k: v for k, v in report.items() if k not in VOLATILE_TOP}
    if isinstance(kept.get("changes"), dict):
        kept["changes"] = {k: v for k, v in kept["changes"].items() if k not in VOLATILE_CHANGES}
    return kept


def changed(old_path: str, new_path: str) -> bool:
    if not Path(old_path).is_file():
        return True
    return stable(load(old_path)) != stable(load(new_path))


def summary_line(report: dict[str, Any]) -> str:
    summary = report.get("summary")
    if not isinstance(summary, dict) or not summary:
        return "No summary in the report."
    order = ("links", "ok", "redirected", "broken", "unverified", "skipped", "duplicated")
    parts = [f"{summary[k]} {k}" for k in order if k in summary]
    return ", ".join(parts)


def link_line(item: Any) -> str:
    if not isinstance(item, dict):
        return f"- {item}"
    return f"- `{item.get('session', '?')}` {item.get('field', '?')}: {item.get('url', '?')}"


def link_list(items: list[Any]) -> list[str]:
    lines = [link_line(item) for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"- … and {len(items) - MAX_LISTED} more (see the report)")
    return lines


def commit_message(report: dict[str, Any]) -> str:
    parts = []
    for key, one, many in CHANGE_WORDS:
        n = len(entries(report, key))
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    first = "changes" in report and changes(report).get("baseline_at", "") is None
    subject = "reports: " + (", ".join(parts) or ("first run" if first else "refresh"))
    body = [summary_line(report)]
    broken = entries(report, "newly_broken")
    if broken:
        body += ["", "Newly broken:", *link_list(broken)]
    recovered = entries(report, "recovered")
    if recovered:
        body += ["", "Recovered:", *link_list(recovered)]
    return subject + "\n\n" + "\n".join(body) + "\n"


def footer() -> list[str]:
    lines = []
    if os.environ.get("REPORT_URL"):
        lines.append(f"Full report: {os.environ['REPORT_URL']}")
    if os.environ.get("RUN_URL"):
        lines.append(f"Workflow run: {os.environ['RUN_URL']}")
    return ["", *lines] if lines else []


def error_findings(report: dict[str, Any]) -> list[str]:
    """The findings that make the run exit 1 (duplicates, escalations), one line each."""
    found = report.get("findings")
    lines = []
    for item in found if isinstance(found, list) else []:
        if isinstance(item, dict) and item.get("severity") == "error":
            where = f"line {item['line']}, " if item.get("line") else ""
            lines.append(f"- {where}`{item.get('session', '?')}`: {item.get('message', '')}")
    if len(lines) > MAX_LISTED:
        lines[MAX_LISTED:] = [f"- … and {len(lines) - MAX_LISTED} more (see the report)"]
    return lines


def issue_body(report: dict[str, Any]) -> str:
    if not report:
        lines = ["The nightly link check failed but wrote no readable report."]
    else:
        lines = [
            "The nightly link check found problems: links that are definitively broken "
            '(the server answered 404/410, "Video unavailable", a soft-404 page, …), '
            "duplicated links, or links unverified for too many runs in a row.",
            "",
            f"Summary: {summary_line(report)}",
        ]
        broken = entries(report, "newly_broken")
        if broken:
            lines += ["", "Newly broken:", *link_list(broken)]
        errors = error_findings(report)
        if errors:
            lines += ["", "Catalogue errors:", *errors]
    lines += [
        "",
        "This issue is kept up to date by the nightly job: it comments when more links break "
        "and closes the issue once every link is verified healthy again.",
    ]
    return "\n".join(lines + footer()) + "\n"


def comment_body(report: dict[str, Any]) -> str:
    at = report.get("generated_at", "the latest run")
    lines = [f"New breakage in the run of {at}.", "", f"Summary: {summary_line(report)}"]
    broken = entries(report, "newly_broken")
    if broken:
        lines += ["", "Newly broken:", *link_list(broken)]
    recovered = entries(report, "recovered")
    if recovered:
        lines += ["", "Recovered:", *link_list(recovered)]
    return "\n".join(lines + footer()) + "\n"


def healthy_body(report: dict[str, Any]) -> str:
    at = report.get("generated_at", "the latest run")
    lines = [
        f"Every link was verified healthy in the run of {at}: closing.",
        "",
        f"Summary: {summary_line(report)}",
    ]
    return "\n".join(lines + footer()) + "\n"


def fixes(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The links whose fix (``{"url", "kind", "source"}``) is of ``kind``."""
    found = report.get("links")
    return [
        item
        for item in (found if isinstance(found, list) else [])
        if isinstance(item, dict)
        and isinstance(item.get("fix"), dict)
        and item["fix"].get("kind") == kind
        and isinstance(item["fix"].get("url"), str)
    ]


def code(text: Any) -> str:
    """``text`` as inline code that nothing in it can end (URLs come from the web)."""
    plain = " ".join(str(text).replace("`", "%60").split())
    return f"`{plain}`"


def fix_line(item: dict[str, Any]) -> str:
    where = f"line {item['line']}, " if item.get("line") else ""
    source = item["fix"].get("source")
    why = f" ({code(source)})" if source else ""
    return (
        f"- {where}{code(item.get('session', '?'))} {code(item.get('field', '?'))}: "
        f"{code(item.get('url', '?'))} → {code(item['fix']['url'])}{why}"
    )


def fix_pr_body(report: dict[str, Any]) -> str:
    certain = fixes(report, "certain")
    lines = [
        f"`python -m crawler fix` applied the {len(certain)} certain "
        f"fix{'' if len(certain) == 1 else 'es'} of the nightly link check: the hosts "
        "themselves point to the new places (a permanent redirect, a moved deck, a renamed "
        "branch or repository).",
        "",
    ]
    shown = [fix_line(item) for item in certain[:MAX_LISTED]]
    if len(certain) > MAX_LISTED:
        shown.append(f"- … and {len(certain) - MAX_LISTED} more (see the diff)")
    lines += shown
    suggested = len(fixes(report, "suggested"))
    if suggested:
        lines += [
            "",
            f"{suggested} suggested fix{'' if suggested == 1 else 'es'} (good guesses a person "
            "confirms) are not applied: see the report, or run "
            "`python -m crawler fix --include-suggested`.",
        ]
    lines += [
        "",
        "This pull request is kept up to date by the nightly job, and closed once nothing is "
        "left to fix.",
    ]
    return "\n".join(lines + footer()) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "changed":
        return 0 if changed(argv[1], argv[2]) else 1
    if len(argv) == 3 and argv[0] == "count":
        print(len(entries(load(argv[2]), argv[1])))
        return 0
    renderers = {
        "commit-message": commit_message,
        "issue-body": issue_body,
        "comment-body": comment_body,
        "healthy-body": healthy_body,
        "fix-pr-body": fix_pr_body,
    }
    if len(argv) == 2 and argv[0] in renderers:
        sys.stdout.write(renderers[argv[0]](load(argv[1])))
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
