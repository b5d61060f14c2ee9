#!/bin/sh
# The Debian packages grading needs, installed where missing: the one place that lists them.
# `make setup` (so `make demo` and `make test`, the README's commands) runs this first; .ci/run runs
# `make test`.
#
#   bubblewrap         sandboxes submission code (graders/engine/sandbox.py): without it submissions run with
#                      resource limits only
#   chromium           prints notebooks to PDF (collect_submission.sh); fonts-dejavu-core for their text
#   poppler-utils      pdftoppm renders submitted PDFs back (Part 2 grading, the tests)
#   zip                packs submissions (collect_submission.sh, the example builds)
#
# As root on a machine with apt-get: installs what is missing (apt-get update first, non-interactive).
# Otherwise, when something is missing: prints the exact command to run and exits 1, before anything
# is graded, so that a grade never depends on a half-equipped machine.
# HW1_SKIP_SYSTEM_PACKAGES=1 skips all of this (a machine where you know what you are doing, e.g. a Mac
# for the students' self-check, which runs without bubblewrap by design).
# --pretend-user: behave as a non-root user would (to test that branch without dropping privileges).
set -eu

PACKAGES="chromium fonts-dejavu-core poppler-utils zip bubblewrap"

if [ "${HW1_SKIP_SYSTEM_PACKAGES:-}" = 1 ]; then
  echo "system packages: not checked (HW1_SKIP_SYSTEM_PACKAGES=1)"
  exit 0
fi

as_root=0
[ "$(id -u)" = 0 ] && as_root=1
[ "${1:-}" = --pretend-user ] && as_root=0

# What each package provides, looked up as a program on PATH (fonts: its font file), so that a
# package that dpkg lists but whose program cannot be run here still counts as missing.
present() {
  case "$1" in
    chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ;;
    fonts-dejavu-core) [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] ;;
    poppler-utils) command -v pdftoppm >/dev/null 2>&1 ;;
    zip) command -v zip >/dev/null 2>&1 ;;
    bubblewrap) command -v bwrap >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=""
for p in $PACKAGES; do
  present "$p" || missing="$missing $p"
done
missing="${missing# }"
if [ -z "$missing" ]; then
  echo "system packages: all present ($PACKAGES)"
  exit 0
fi

if [ "$as_root" = 1 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system packages: installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086  # one word per package
  apt-get install -y -qq --no-install-recommends $missing
  still=""
  for p in $missing; do
    present "$p" || still="$still $p"
  done
  if [ -n "$still" ]; then
    echo "hw1grade: error: installed, but still not usable here:$still (see hw1grade doctor once set up)" >&2
    exit 1
  fi
  exit 0
fi

{
  echo "hw1grade: error: these Debian packages are missing: $missing"
  echo "Grading needs them (bubblewrap sandboxes submission code; chromium, poppler-utils and zip handle"
  echo "notebook PDFs and submission zips). Install them, then run the same command again:"
  if command -v apt-get >/dev/null 2>&1; then
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing"
  else
    echo "    (no apt-get here: install the equivalents of $missing with this system's package manager,"
    echo "    or set HW1_SKIP_SYSTEM_PACKAGES=1 to go on without them)"
  fi
} >&2
exit 1
