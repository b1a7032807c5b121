# shellcheck shell=bash
# Sourced by the nightly scripts: the bot they commit as, and how they report to the workflow.

# shellcheck disable=SC2034 # used by the scripts that source this file
bot_name="github-actions[bot]"
# shellcheck disable=SC2034
bot_email="41898282+github-actions[bot]@users.noreply.github.com"

# `output KEY VALUE`: printed, and written to $GITHUB_OUTPUT for the next steps when set.
output() {
  printf '%s=%s\n' "$1" "$2"
  if [ -n "${GITHUB_OUTPUT-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}
