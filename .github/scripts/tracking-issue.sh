#!/usr/bin/env bash
# Keep ONE open issue (label $ISSUE_LABEL) about broken links, whatever the number of nights.
#
#   exit 1 (broken): no open issue -> create one; an open issue and links newly broken
#                    tonight -> comment on it; an open issue and nothing new -> leave it alone.
#   exit 0 (every link verified healthy): an open issue -> comment and close it.
#   anything else (3 = only unverified, 2 = invalid catalogue, crashes): do nothing; an
#                    unreachable server is not a broken link.
#
# Environment:
#   CRAWLER_EXIT   the crawler's exit code (required)
#   REPORT_JSON    the run's report (default: reports/latest.json)
#   ISSUE_LABEL    label that marks the tracking issue (default: link-health)
#   ISSUE_TITLE    title of a new tracking issue
#   REPORT_URL, RUN_URL  links put at the end of issue texts
#   GH_TOKEN (and GH_REPO)  for gh
#   GITHUB_OUTPUT  when set, action=created|commented|closed|none and issue=<number> go to it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.github/scripts/common.sh
. "$here/common.sh"
code=${CRAWLER_EXIT:?set CRAWLER_EXIT to the exit code of the crawler}
report=${REPORT_JSON:-reports/latest.json}
label=${ISSUE_LABEL:-link-health}
title=${ISSUE_TITLE:-Link health: broken or duplicated links in the catalogue}

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# The number of the oldest open tracking issue, or nothing.
open_issue() {
  gh issue list --label "$label" --state open --json number --limit 100 |
    python3 -c 'import json, sys; n = sorted(i["number"] for i in json.load(sys.stdin)); print(n[0] if n else "")'
}

case "$code" in
  1)
    # --force makes this idempotent: it updates the label when it already exists.
    gh label create "$label" --color B60205 \
      --description "Tracked by the nightly link check" --force >/dev/null
    number=$(open_issue)
    if [ -z "$number" ]; then
      python3 "$here/report_facts.py" issue-body "$report" >"$body"
      url=$(gh issue create --title "$title" --label "$label" --body-file "$body")
      echo "Opened $url"
      output action created
      output issue "${url##*/}"
    elif [ "$(python3 "$here/report_facts.py" count newly_broken "$report")" -gt 0 ]; then
      python3 "$here/report_facts.py" comment-body "$report" >"$body"
      gh issue comment "$number" --body-file "$body"
      output action commented
      output issue "$number"
    else
      echo "Already tracked in #$number and nothing newly broken tonight."
      output action none
      output issue "$number"
    fi
    ;;
  0)
    # Best effort: a repository that never had the label has no issue to close.
    number=$(open_issue 2>/dev/null || true)
    if [ -n "$number" ]; then
      python3 "$here/report_facts.py" healthy-body "$report" >"$body"
      gh issue comment "$number" --body-file "$body"
      gh issue close "$number"
      output action closed
      output issue "$number"
    else
      output action none
    fi
    ;;
  *)
    echo "Exit code $code: the tracking issue is left as it is."
    output action none
    ;;
esac
