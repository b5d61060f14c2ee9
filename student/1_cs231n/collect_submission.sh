#!/bin/sh
#############################################################################
# Makes 1_cs231n.zip for Gradescope: everything in this folder (cs231n/ at
# the root of the zip) plus a PDF of each notebook, which it makes first with
# notebook_to_pdf.py (nbconvert and a headless Chrome or Chromium).
#
#   sh collect_submission.sh
#
# Run and save the four notebooks before. Left out: the CIFAR-10 data, build
# outputs of the Cython extension, caches, checkpoints and older zips.
# A missing deliverable (or a notebook without outputs) is listed at the end;
# the zip is made anyway, and the exit status is then 1.
#   PYTHON=/path/to/python   the Python with nbconvert (default: python, python3)
#   CHROME=/path/to/chrome   the browser that prints the PDFs
#############################################################################
set -u
cd "$(dirname "$0")" || exit 2

ZIP=1_cs231n.zip
NOTEBOOKS="softmax two_layer_net layers convnet"
# The files the questions ask students to change.
CODE="load_cifar10_tvt.py cs231n/layers.py cs231n/classifier_trainer.py
      cs231n/classifiers/softmax.py cs231n/classifiers/linear_classifier.py
      cs231n/classifiers/neural_net.py cs231n/classifiers/convnet.py"

die() {
  echo "collect_submission.sh: error: $*" >&2
  exit 2
}

command -v zip >/dev/null 2>&1 || die "the zip program is missing (Debian/Ubuntu: sudo apt-get install zip)"
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python
  command -v python >/dev/null 2>&1 || PYTHON=python3
fi

missing=""
for file in $CODE; do
  [ -f "$file" ] || missing="$missing $file"
done

# One PDF per notebook; a browser or nbconvert that is missing stops everything (status 2).
notebooks=""
for name in $NOTEBOOKS; do
  if [ -f "$name.ipynb" ]; then notebooks="$notebooks $name.ipynb"; else missing="$missing $name.ipynb"; fi
done
if [ -n "$notebooks" ]; then
  # shellcheck disable=SC2086  # the names have no spaces
  "$PYTHON" notebook_to_pdf.py $notebooks
  [ $? -eq 2 ] && die "no PDFs could be made (see above); $ZIP was not written"
fi
for name in $NOTEBOOKS; do
  [ -f "$name.ipynb" ] || continue
  [ -f "$name.pdf" ] || missing="$missing $name.pdf"
  # Every output of a notebook has an output_type; a notebook without one was never run.
  grep -q '"output_type"' "$name.ipynb" || missing="$missing $name.ipynb:not-run"
done

# Every file of the folder but data, build outputs and caches, in a stable order.
list="$(mktemp "${TMPDIR:-/tmp}/collect_submission.XXXXXX")" || die "cannot create a temporary file"
trap 'rm -f "$list"' EXIT
find . \( -name .git -o -name __pycache__ -o -name .ipynb_checkpoints -o -name build \
          -o -name cifar-10-batches-py -o -path ./data \) -prune \
     -o -type f ! -name '*.so' ! -name '*.pyd' ! -name '*.pyc' ! -name im2col_cython.c \
        ! -name '*.zip' ! -name '*.pt' ! -name '*.tar.gz' ! -name .DS_Store -print \
  | sed 's|^\./||' | LC_ALL=C sort > "$list"
rm -f "$ZIP"
zip -q -X "$ZIP" -@ < "$list" || die "zip failed; $ZIP is incomplete"
echo "wrote $ZIP ($(wc -l < "$list" | tr -d ' ') files)"

if [ -n "$missing" ]; then
  echo "collect_submission.sh: WARNING: $ZIP was made, but these deliverables are missing or incomplete:" >&2
  for file in $missing; do
    case "$file" in
      *:not-run) echo "  not run: ${file%%:*} has no outputs (run it top to bottom and save it)" >&2 ;;
      *) echo "  missing: $file" >&2 ;;
    esac
  done
  exit 1
fi
