#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the bundle unpacked in
# /autograder/source). It leaves the image able to grade with no network, or it fails here, at build
# time, where staff see it, never on students:
#   1. Debian/Ubuntu packages grading needs, installed where missing: bubblewrap (the sandbox),
#      util-linux (setpriv), poppler-utils (pdftoppm renders Part 2's PDF), zip, a C toolchain and a
#      Python 3.11 with venv and headers (Debian 12: the distribution's python3.11; Ubuntu: the
#      deadsnakes PPA, as no supported Ubuntu LTS ships a final 3.11 in main). No chromium: grading
#      prints no notebook to PDF.
#   2. /autograder/venv with the grader installed (editable: the rubric, graders/inside and the
#      reference stay where the grader looks for them) and its pinned dependencies.
#   3. The reference's Cython extension (im2col_cython) built in place: the Q8.4 checks compare with it.
#   4. CIFAR-10 extracted into /autograder/cache (the bundled data/cifar-10-python.tar.gz, else the
#      official download: the last time the network is used), the notebooks' label-free copy, and the
#      challenge labels checked (data/challenge_labels.json if bundled, else the set built from
#      CIFAR-10's test batch with the course secret, data/course_secret if bundled).
#   5. The grader's preflight (`hw1grade doctor`): a non-zero exit fails the image build.
#
# Knobs for a CI machine that already holds the dependencies (Gradescope sets none of them):
#   HW1GRADE_AUTOGRADER_ROOT   instead of /autograder
#   HW1GRADE_SEED_SITE_PACKAGES  a python3.11 site-packages that already holds the pinned dependencies:
#       hard-linked (copied across file systems) into the venv before pip runs, so pip only checks the
#       pins and installs what is missing instead of unpacking 5 GB of torch and CUDA wheels again.
#   PIP_FIND_LINKS, PIP_INDEX_URL, ...: pip's own settings (e.g. a local wheel folder) are honoured.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${HW1GRADE_AUTOGRADER_ROOT:-/autograder}"
VENV="$ROOT/venv"
export HW1_CACHE_DIR="$ROOT/cache/cifar10"
started=$SECONDS
step() { echo "== setup.sh [$((SECONDS - started)) s]: $*"; }

# -- 1. system packages ---------------------------------------------------------------------------
# shellcheck disable=SC1091
. /etc/os-release
PYTHON=/usr/bin/python3.11
packages=""
command -v bwrap >/dev/null 2>&1 || packages+=" bubblewrap"
command -v setpriv >/dev/null 2>&1 || packages+=" util-linux"
command -v pdftoppm >/dev/null 2>&1 || packages+=" poppler-utils"
command -v zip >/dev/null 2>&1 || packages+=" zip"
command -v cc >/dev/null 2>&1 || packages+=" build-essential"
python_ok() { [ -x "$PYTHON" ] && "$PYTHON" -c 'import ensurepip, venv, sysconfig, os, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; }
python_ok || packages+=" python3.11 python3.11-venv python3.11-dev"
if [ -n "$packages" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if ! python_ok && [ "${ID:-}" = ubuntu ]; then
        step "Ubuntu ${VERSION_ID:-}: python3.11 from the deadsnakes PPA"
        apt-get install -y -qq --no-install-recommends software-properties-common gpg-agent
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update -qq
    fi
    step "installing${packages} (${PRETTY_NAME:-unknown system})"
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -qq --no-install-recommends ca-certificates $packages
fi
python_ok || { echo "setup.sh: no usable Python 3.11 with venv and headers at $PYTHON" >&2; exit 1; }

# -- 2. the venv ----------------------------------------------------------------------------------
step "venv in $VENV ($("$PYTHON" --version))"
"$PYTHON" -m venv "$VENV"
if [ -n "${HW1GRADE_SEED_SITE_PACKAGES:-}" ]; then
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    step "seeding $SITE from $HW1GRADE_SEED_SITE_PACKAGES"
    for item in "$HW1GRADE_SEED_SITE_PACKAGES"/*; do
        case "$(basename "$item")" in   # never another checkout's hw1grade
            hw1grade-*|__editable__*hw1grade*) continue ;;
        esac
        [ -e "$SITE/$(basename "$item")" ] && continue   # the venv's own pip and setuptools stay
        cp -al "$item" "$SITE/" 2>/dev/null || cp -a "$item" "$SITE/"
    done
fi
"$VENV/bin/python" -m pip install -q -e "$SOURCE/hw1grade"

# -- 3. the reference's Cython extension, built as students build theirs ---------------------------
step "building the reference's im2col_cython"
(cd "$SOURCE/hw1grade/reference/1_cs231n/cs231n" && "$VENV/bin/python" setup.py -q build_ext --inplace)

# -- 4. data ---------------------------------------------------------------------------------------
LABELS=()
if [ -f "$SOURCE/data/challenge_labels.json" ]; then LABELS=(--labels "$SOURCE/data/challenge_labels.json"); fi
ARCHIVE=()
if [ -f "$SOURCE/data/cifar-10-python.tar.gz" ]; then ARCHIVE=(--cifar10 "$SOURCE/data/cifar-10-python.tar.gz"); fi
# The course secret (graders/data/heldout.py): held-out draws and the default challenge set depend on it.
if [ -f "$SOURCE/data/course_secret" ]; then export HW1_COURSE_SECRET_FILE="$SOURCE/data/course_secret"; fi
step "CIFAR-10 and the challenge labels"
(cd "$SOURCE/hw1grade" && "$VENV/bin/python" -m graders.classroom.gradescope prepare "${ARCHIVE[@]}" "${LABELS[@]}")
# What the sandbox (uid nobody) reads: the venv (made world-readable by venv and pip), the sources.
# Never data/: the labels and the course secret are root's (the sandbox does not mount them either).
chmod a+rx "$ROOT" "$VENV"
chmod -R a+rX "$SOURCE" "$ROOT/cache"
if [ -d "$SOURCE/data" ]; then chmod -R go-rwx "$SOURCE/data"; fi

# -- 5. preflight ----------------------------------------------------------------------------------
# Exit status 1 when grading here would be wrong (graders/engine/doctor.py): set -e fails the image build.
step "hw1grade doctor"
(cd "$SOURCE/hw1grade" && "$VENV/bin/hw1grade" doctor)
step "done in $((SECONDS - started)) s"
