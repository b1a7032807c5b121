#!/usr/bin/env bash
# Commit the crawler's reports back to the branch, but only when they say something new.
#
# Run from the repository root after the reports were written (or downloaded) into
# $REPORT_DIR. "Something new" is decided on latest.json without its per-run keys
# (generated_at, duration_seconds, changes.baseline_at, the trend): otherwise every night would
# make a commit that only moves a timestamp. The message says what changed, from latest.json's
# "changes" ("reports: 2 newly broken, 1 recovered"; "reports: refresh" when only other
# content, such as titles or failure counters, changed).
#
# Environment:
#   REPORT_DIR      where the reports are (default: reports)
#   REPORT_FILES    which of its files to commit (default: latest.md latest.json badge.json)
#   TARGET_BRANCH   branch to push to (default: $GITHUB_REF_NAME, else the current branch)
#   GITHUB_OUTPUT   when set, committed=true|false and message=<subject> are appended to it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.github/scripts/common.sh
. "$here/common.sh"
report_dir=${REPORT_DIR:-reports}
read -r -a names <<<"${REPORT_FILES:-latest.md latest.json badge.json}"
branch=${TARGET_BRANCH:-${GITHUB_REF_NAME:-$(git rev-parse --abbrev-ref HEAD)}}

files=()
for name in "${names[@]}"; do
  if [ -f "$report_dir/$name" ]; then
    files+=("$report_dir/$name")
  fi
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "No reports in $report_dir: nothing to commit."
  output committed false
  exit 0
fi

git add -- "${files[@]}"
if git diff --cached --quiet -- "${files[@]}"; then
  echo "Reports are identical to the committed ones: nothing to commit."
  output committed false
  exit 0
fi

json="$report_dir/latest.json"
if [ -f "$json" ]; then
  previous=$(mktemp)
  trap 'rm -f "$previous"' EXIT
  # An absent committed copy leaves $previous empty, which counts as "changed".
  git show "HEAD:$json" >"$previous" 2>/dev/null || : >"$previous"
  if [ -s "$previous" ] && ! python3 "$here/report_facts.py" changed "$previous" "$json"; then
    echo "Only per-run fields (timestamps, duration) changed: nothing to commit."
    git reset --quiet -- "${files[@]}"
    output committed false
    exit 0
  fi
  message=$(python3 "$here/report_facts.py" commit-message "$json")
else
  message="reports: refresh"
fi

git -c user.name="$bot_name" -c user.email="$bot_email" \
  commit --quiet -m "$message" -- "${files[@]}"

# Someone may have pushed while the crawler ran: replay our commit on top and try again.
pushed=false
for attempt in 1 2 3; do
  if git push --quiet origin "HEAD:refs/heads/$branch"; then
    pushed=true
    break
  fi
  echo "Push attempt $attempt was rejected; rebasing on origin/$branch."
  git -c user.name="$bot_name" -c user.email="$bot_email" \
    pull --quiet --rebase origin "$branch"
done
if [ "$pushed" != true ]; then
  echo "::error::Could not push the reports to $branch."
  exit 1
fi

subject=${message%%$'\n'*}
echo "Committed and pushed: $subject"
output committed true
output message "$subject"
