#!/usr/bin/env bash
# Keep ONE pull request (branch $FIX_BRANCH) that applies the report's certain fixes to the
# catalogue with `crawler fix`.
#
#   opt-in off (CRAWLER_FIX_PR is not "true")  -> nothing
#   `crawler fix` changes the catalogue, no open pull request -> push the branch, open one
#   `crawler fix` changes the catalogue, one is open          -> push the branch (only when
#                                      its catalogue differs), refresh the body: "updated"
#   nothing left to fix, one is open   -> comment, close it and delete its branch
#   nothing left to fix, none open     -> nothing
#   `crawler fix` refuses (exit 2: the catalogue changed since the report) -> nothing; the
#                                      next night tries again
#
# Run from the repository root, on the commit the report was made from (crawler fix checks
# the catalogue's hash), with the report in $REPORT_JSON.
#
# Environment:
#   CRAWLER_FIX_PR   "true" to act at all (the repository variable of that name)
#   REPORT_JSON      the run's report (default: reports/latest.json)
#   CATALOG          the catalogue (default: catalog.yaml)
#   FIX_BRANCH       the pull request's branch (default: crawler/fixes)
#   BASE_BRANCH      the branch it targets (default: $GITHUB_REF_NAME, else the current one)
#   CRAWLER_FIX_COMMAND  how to run `crawler fix` (default: python -m crawler fix)
#   REPORT_URL, RUN_URL  links put at the end of the body
#   GH_TOKEN (and GH_REPO)  for gh
#   GITHUB_OUTPUT    when set, action=created|updated|closed|none and pr=<number> go to it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.github/scripts/common.sh
. "$here/common.sh"
report=${REPORT_JSON:-reports/latest.json}
catalog=${CATALOG:-catalog.yaml}
branch=${FIX_BRANCH:-crawler/fixes}
base=${BASE_BRANCH:-${GITHUB_REF_NAME:-$(git rev-parse --abbrev-ref HEAD)}}
read -r -a fix_command <<<"${CRAWLER_FIX_COMMAND:-python -m crawler fix}"
title=${FIX_PR_TITLE:-Link health: apply the certain fixes to the catalogue}

if [ "${CRAWLER_FIX_PR-}" != true ]; then
  echo "CRAWLER_FIX_PR is not 'true': no fix pull request."
  output action none
  exit 0
fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# The number of the oldest open pull request from the fix branch, or nothing.
open_pr() {
  gh pr list --head "$branch" --base "$base" --state open --json number --limit 100 |
    python3 -c 'import json, sys; n = sorted(i["number"] for i in json.load(sys.stdin)); print(n[0] if n else "")'
}

set +e
"${fix_command[@]}" --catalog "$catalog" --report "$report"
code=$?
set -e
case "$code" in
  0) ;;
  2)
    echo "::warning::crawler fix refused (the catalogue changed since the report?): the fix pull request is left as it is."
    output action none
    exit 0
    ;;
  *)
    echo "::error::crawler fix failed with exit code $code."
    exit 1
    ;;
esac

number=$(open_pr)

if git diff --quiet -- "$catalog"; then
  if [ -n "$number" ]; then
    gh pr close "$number" --delete-branch \
      --comment "Nothing is left to fix in the latest nightly run: closing."
    output action closed
    output pr "$number"
  else
    echo "Nothing to fix."
    output action none
  fi
  exit 0
fi

python3 "$here/report_facts.py" fix-pr-body "$report" >"$body"
git switch --quiet -C "$branch"
git -c user.name="$bot_name" -c user.email="$bot_email" \
  commit --quiet -m "catalog: apply the certain fixes of the nightly link check" -- "$catalog"

# Push only when the branch's catalogue would change: an identical force-push would still
# notify every reviewer of the pull request.
if git fetch --quiet origin "refs/heads/$branch" 2>/dev/null &&
  git diff --quiet FETCH_HEAD HEAD -- "$catalog"; then
  echo "The fix branch already holds these fixes."
else
  git push --quiet --force origin "HEAD:refs/heads/$branch"
fi

if [ -n "$number" ]; then
  gh pr edit "$number" --body-file "$body"
  output action updated
  output pr "$number"
else
  url=$(gh pr create --base "$base" --head "$branch" --title "$title" --body-file "$body")
  echo "Opened $url"
  output action created
  output pr "${url##*/}"
fi
