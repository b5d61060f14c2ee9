#!/bin/sh
# Download CIFAR-10 (python version) and unpack it next to this script as cifar-10-batches-py/.
# get_datasets.py does the work (on Windows run `python get_datasets.py`); see it for the options:
#   HW1_CIFAR10_ARCHIVE=/path/to/cifar-10-python.tar.gz   unpack your own copy instead of downloading
#   PYTHON=/path/to/python                               the Python to use (default: python, python3)
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python
  command -v python >/dev/null 2>&1 || PYTHON=python3
fi
exec "$PYTHON" "$(dirname "$0")/get_datasets.py" "$@"
