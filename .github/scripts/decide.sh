#!/usr/bin/env bash
# Turn the crawler's exit code into the nightly job's decisions, in one place so that the
# workflow and tests/test_workflows.py agree on them.
#
# usage: decide.sh CODE
# Prints key=value lines (and appends them to $GITHUB_OUTPUT when it is set):
#   outcome  healthy | broken | invalid | unverified | crashed | interrupted
#   commit   true when the reports are worth committing (a completed run: 0, 1 or 3)
#   track    true when the tracking issue may need work (1: open/comment, 0: close)
#   fail     true when the job must fail (1 broken, 2 invalid, 4 crashed, 130, anything else)
set -euo pipefail

code=${1-}

case "$code" in
  0) outcome=healthy commit=true track=true fail=false ;;
  1) outcome=broken commit=true track=true fail=true ;;
  2) outcome=invalid commit=false track=false fail=true ;;
  # Unverified only (no network, bot walls, timeouts): worth recording, never an alarm.
  3) outcome=unverified commit=true track=false fail=false ;;
  # 4: the crawler crashed (a bug, not a verdict). An empty or unknown code (a kill, Python
  # dying) is a crash too. Either way its reports cannot be trusted, and no link is broken.
  4) outcome=crashed commit=false track=false fail=true ;;
  130) outcome=interrupted commit=false track=false fail=true ;;
  *) outcome=crashed commit=false track=false fail=true ;;
esac

result="outcome=$outcome
commit=$commit
track=$track
fail=$fail"

printf '%s\n' "$result"
if [ -n "${GITHUB_OUTPUT-}" ]; then
  printf '%s\n' "$result" >>"$GITHUB_OUTPUT"
fi
