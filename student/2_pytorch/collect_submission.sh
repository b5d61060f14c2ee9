#!/bin/sh
#############################################################################
# Makes 2_pytorch.zip for Gradescope, with models/ at the root of the zip:
# the code (models/*.py, train.py, test.py, cifar10.py, challenge_data.py,
# vis_utils.py), the run_*.sh scripts, the training logs, the plots, the
# notebooks, extra.md, predictions.csv, and 2_pytorch.pdf, which it first
# remakes from the plots with make_pdf.py.
#
#   sh collect_submission.sh
#
# Left out: data/, the saved models (*.pt) and caches. A missing deliverable
# (or a log without its final test line) is listed at the end; the zip is made
# anyway, and the exit status is then 1.
#   PYTHON=/path/to/python   the Python with matplotlib (default: python, python3)
#############################################################################
set -u
cd "$(dirname "$0")" || exit 2

ZIP=2_pytorch.zip
MODELS="softmax twolayernn convnet mymodel"
PLOTS="lossvstrain valaccuracy gridfilt"
CODE="train.py test.py cifar10.py challenge_data.py vis_utils.py models/__init__.py
      softmax-classifier.ipynb filter-viz.ipynb"
# What goes in the zip: these patterns, for the files that exist.
INCLUDE="models/*.py train.py test.py cifar10.py challenge_data.py vis_utils.py run_*.sh *.log *.png
         *.ipynb extra.md predictions.csv 2_pytorch.pdf"

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
for file in $CODE extra.md predictions.csv; do
  [ -f "$file" ] || missing="$missing $file"
done
for model in $MODELS; do
  for file in "models/$model.py" "run_$model.sh" "$model.log"; do
    [ -f "$file" ] || missing="$missing $file"
  done
  if [ -f "$model.log" ] && ! grep -q '^test set: .*Accuracy' "$model.log"; then
    missing="$missing $model.log:final-test-line"
  fi
  for plot in $PLOTS; do
    [ -f "${model}_$plot.png" ] || missing="$missing ${model}_$plot.png"
  done
done

# 2_pytorch.pdf is remade from the plots, so that it shows the latest ones.
if ls ./*.png >/dev/null 2>&1; then
  "$PYTHON" make_pdf.py || echo "collect_submission.sh: make_pdf.py failed" >&2
fi
[ -f 2_pytorch.pdf ] || missing="$missing 2_pytorch.pdf"

list="$(mktemp "${TMPDIR:-/tmp}/collect_submission.XXXXXX")" || die "cannot create a temporary file"
trap 'rm -f "$list"' EXIT
# shellcheck disable=SC2086  # the patterns are meant to be expanded here
for file in $INCLUDE; do
  [ -f "$file" ] && echo "$file"
done | LC_ALL=C sort -u > "$list"
rm -f "$ZIP"
zip -q -X "$ZIP" -@ < "$list" || die "zip failed; $ZIP is incomplete"
echo "wrote $ZIP ($(wc -l < "$list" | tr -d ' ') files)"

if [ -n "$missing" ]; then
  echo "collect_submission.sh: WARNING: $ZIP was made, but these deliverables are missing or incomplete:" >&2
  for file in $missing; do
    case "$file" in
      *:final-test-line) echo "  incomplete: ${file%%:*} has no final 'test set: ... Accuracy' line" >&2 ;;
      *) echo "  missing: $file" >&2 ;;
    esac
  done
  exit 1
fi
