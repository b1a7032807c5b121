"""The nightly fix pull request: its job in nightly.yml and .github/scripts/fix-pr.sh run for
real, as tests/test_workflows.py runs the tracking issue's script.

The fake `gh` of test_workflows.py logs its calls and answers `gh pr list` from a canned
file; a fake `crawler fix` (``CRAWLER_FIX_COMMAND``) rewrites the catalogue as the real one
would, or refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_workflows import BASELINE, SCRIPTS, Night, load_yaml, make_report, step_running
from werkzeug import Response

NIGHTLY = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "nightly.yml"
OLD = "https://github.com/ConstantPark/DL_Compiler/blob/master/TVM.pdf"
NEW = "https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf"
CATALOG = f"sessions:\n  - title: TVM  # the first talk\n    slides: {OLD}\n"

# `crawler fix --catalog PATH --report PATH`: each link's certain fix replaces its URL in the
# catalogue, or it exits FAKE_FIX_EXIT without touching anything.
FAKE_FIX = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_FIX_LOG"], "a", encoding="utf-8") as f:
    f.write(" ".join(args) + "\\n")
code = int(os.environ.get("FAKE_FIX_EXIT", "0"))
if code == 0:
    with open(args[args.index("--report") + 1], encoding="utf-8") as f:
        links = json.load(f).get("links", [])
    path = args[args.index("--catalog") + 1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for link in links:
        if (link.get("fix") or {{}}).get("kind") == "certain":
            text = text.replace(link["url"], link["fix"]["url"])
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
sys.exit(code)
"""


def with_fix(kind: str = "certain") -> dict[str, Any]:
    report = make_report()
    report["links"] = [
        {"session": "2021-02-25-tvm", "field": "slides", "url": OLD, "line": 3, "status":
         "redirected", "fix": {"url": NEW, "kind": kind, "source": "github-branch-renamed"}},
        {"session": "2021-02-25-tvm", "field": "video", "url": "https://youtu.be/x`y",
         "line": 4, "status": "broken",
         "fix": {"url": "https://web.archive.org/web/2024/x", "kind": "suggested",
                 "source": "wayback"}},
    ]  # fmt: skip
    return report


class FixNight(Night):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        fix = tmp_path / "bin" / "fake-crawler-fix"
        fix.write_text(FAKE_FIX.format(python=sys.executable), encoding="utf-8")
        fix.chmod(0o755)
        self.fix_log = tmp_path / "fix.log"
        self.env.update(
            FAKE_FIX_LOG=str(self.fix_log),
            CRAWLER_FIX_COMMAND=str(fix),
            CRAWLER_FIX_PR="true",
            BASE_BRANCH="main",
        )
        (self.work / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
        self.git("add", "catalog.yaml")
        self.git("commit", "--quiet", "-m", "catalogue")
        self.git("push", "--quiet", "origin", "main")

    def fix_pr(self, report: dict[str, Any], **env: str) -> dict[str, str]:
        self.write_reports(report)
        _, outputs = self.run("fix-pr.sh", **env)
        return outputs

    def branch_catalog(self) -> str:
        return self.git_at(self.origin, "show", "crawler/fixes:catalog.yaml")

    def branches(self) -> list[str]:
        out = self.git_at(self.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.split()


@pytest.fixture
def night(tmp_path: Path) -> FixNight:
    return FixNight(tmp_path)


def test_opens_one_pull_request_with_the_fixes_applied_and_listed(night: FixNight) -> None:
    outputs = night.fix_pr(with_fix())

    assert outputs == {"action": "created", "pr": "9"}
    # Only the catalogue's URL changed, comment and all else as written.
    assert night.branch_catalog() == CATALOG.replace(OLD, NEW)
    assert night.fix_log.read_text() == "--catalog catalog.yaml --report reports/latest.json\n"
    calls = night.gh_calls()
    assert [c["argv"][:2] for c in calls] == [["pr", "list"], ["pr", "create"]]
    create = calls[1]["argv"]
    assert create[create.index("--head") + 1] == "crawler/fixes"
    assert create[create.index("--base") + 1] == "main"
    body = calls[1]["body"]
    assert f"`{OLD}` → `{NEW}`" in body and "github-branch-renamed" in body
    # The suggested fix is counted, not applied, and its URL (a backtick in it) not shown.
    assert "1 suggested fix" in body and "web.archive.org" not in body
    # The base branch itself is untouched: reports and catalogue stay as they were.
    assert night.git_at(night.origin, "show", "main:catalog.yaml") == CATALOG


def test_updates_the_open_pull_request_instead_of_opening_another(night: FixNight) -> None:
    night.fix_pr(with_fix())
    night.prs.write_text(json.dumps([{"number": 12}, {"number": 9}]), encoding="utf-8")
    night.gh_log.unlink()
    night.git("checkout", "--quiet", "main")
    night.git("checkout", "--quiet", "--", "catalog.yaml")

    outputs = night.fix_pr(with_fix())

    assert outputs == {"action": "updated", "pr": "9"}
    calls = night.gh_calls()
    assert [c["argv"][:3] for c in calls] == [["pr", "list", "--head"], ["pr", "edit", "9"]]
    assert NEW in calls[1]["body"]
    assert night.branch_catalog() == CATALOG.replace(OLD, NEW)


def test_closes_the_pull_request_when_nothing_is_left_to_fix(night: FixNight) -> None:
    night.fix_pr(with_fix())
    night.prs.write_text(json.dumps([{"number": 9}]), encoding="utf-8")
    night.gh_log.unlink()
    night.git("checkout", "--quiet", "main")
    # The pull request was merged: the catalogue has the new URL, the report no fix.
    night.git("merge", "--quiet", "--ff-only", "crawler/fixes")

    outputs = night.fix_pr(make_report())

    assert outputs == {"action": "closed", "pr": "9"}
    (close,) = night.gh_calls()[1:]
    assert close["argv"][:3] == ["pr", "close", "9"] and "--delete-branch" in close["argv"]


def test_nothing_to_fix_and_no_pull_request_does_nothing(night: FixNight) -> None:
    before = night.branches()
    outputs = night.fix_pr(BASELINE)

    assert outputs == {"action": "none"}
    assert [c["argv"][:2] for c in night.gh_calls()] == [["pr", "list"]]
    assert night.branches() == before == ["main"]


def test_opt_in_off_does_nothing_at_all(night: FixNight) -> None:
    for value in ("", "false", "yes"):
        outputs = night.fix_pr(with_fix(), CRAWLER_FIX_PR=value)
        assert outputs == {"action": "none"}
    assert night.gh_calls() == []
    assert not night.fix_log.exists()
    assert night.branches() == ["main"]


def test_a_refused_fix_leaves_the_pull_request_alone(night: FixNight) -> None:
    night.prs.write_text(json.dumps([{"number": 9}]), encoding="utf-8")
    outputs = night.fix_pr(with_fix(), FAKE_FIX_EXIT="2")

    assert outputs == {"action": "none"}
    assert night.gh_calls() == []
    assert night.branches() == ["main"]


def test_nightly_fix_pr_job_is_opt_in_and_alone_may_open_pull_requests() -> None:
    nightly = load_yaml(NIGHTLY)
    job = nightly["jobs"]["fix-pr"]
    assert job["needs"] == "check"
    assert "vars.CRAWLER_FIX_PR == 'true'" in job["if"] and "!cancelled()" in job["if"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    others = [j for name, j in nightly["jobs"].items() if name != "fix-pr"]
    assert not any("pull-requests" in j.get("permissions", {}) for j in others)
    download = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/download")]
    assert download[0]["with"] == {"name": "link-health-reports", "path": "reports"}
    step = step_running(job, "bash .github/scripts/fix-pr.sh")
    assert step["env"]["CRAWLER_FIX_PR"] == "${{ vars.CRAWLER_FIX_PR }}"
    assert step["env"]["FIX_BRANCH"] == "crawler/fixes"
    assert (SCRIPTS / "fix-pr.sh").is_file()


def test_the_real_check_and_fix_feed_the_pull_request(tmp_path: Path, httpserver) -> None:
    """No fake in between: `crawler check` finds a permanent redirect on a local server, and
    fix-pr.sh runs the real `crawler fix` on its report."""
    httpserver.expect_request("/old.pdf").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for("/new.pdf")})
    )
    httpserver.expect_request("/new.pdf").respond_with_data(
        b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"
    )
    old, new = httpserver.url_for("/old.pdf"), httpserver.url_for("/new.pdf")
    catalog = (
        "study: {title: S}\nsessions:\n"
        f"  - title: TVM  # the first talk\n    date: 2021-02-25\n    slides: '{old}'\n"
    )
    night = Night(tmp_path)
    (night.work / "catalog.yaml").write_text(catalog, encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "-m", "crawler", "check", "--allow-private", "-q"],
        cwd=night.work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    [link] = json.loads((night.work / "reports" / "latest.json").read_text())["links"]
    assert link["status"] == "redirected", checked.stdout + checked.stderr
    assert link["fix"] == {"url": new, "kind": "certain", "source": "redirect"}
    night.git("add", ".")
    night.git("commit", "--quiet", "-m", "catalogue and its report")
    night.git("push", "--quiet", "origin", "main")

    _, outputs = night.run(
        "fix-pr.sh",
        CRAWLER_FIX_PR="true",
        BASE_BRANCH="main",
        CRAWLER_FIX_COMMAND=f"{sys.executable} -m crawler fix",
    )

    assert outputs == {"action": "created", "pr": "9"}
    fixed = night.git_at(night.origin, "show", "crawler/fixes:catalog.yaml")
    assert fixed == catalog.replace(old, new)  # the comment and the quoting as written
    create = night.gh_calls()[-1]
    assert create["argv"][:2] == ["pr", "create"] and f"`{old}` → `{new}`" in create["body"]
