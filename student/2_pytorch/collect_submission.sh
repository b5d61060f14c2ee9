#!/bin/sh
#############################################################################
# Makes 1_cs231n.zip (run in 1_cs231n/) or 2_pytorch.zip (run in 2_pytorch/):
# collect_submission.py does the work and says what is missing or unfinished;
# on Windows without Git Bash run `python collect_submission.py` instead.
#   PYTHON=/path/to/python   the Python of your virtual environment
#                            (default: python, else python3)
#   CHROME=/path/to/chrome   the browser that prints the notebook PDFs
#############################################################################
cd "$(dirname "$0")" || exit 2
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python
  command -v python >/dev/null 2>&1 || PYTHON=python3
fi
exec "$PYTHON" collect_submission.py "$@"
