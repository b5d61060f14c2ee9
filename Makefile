# One place for the project's commands; the README and .ci/run call these targets.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
PART1   := reference/1_cs231n

.PHONY: system setup ext data demo notebooks test test-fast bench clean

# The Debian packages grading needs (bubblewrap, chromium, poppler-utils, zip): installed as root with
# apt-get, otherwise the exact command is printed and make stops before anything is graded.
system:
	scripts/system-packages.sh

$(BIN)/hw1grade: pyproject.toml | system
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/hw1grade ext

# The Cython extension is built exactly as students build it: from cs231n/, in place.
ext: $(BIN)/hw1grade
	cd $(PART1)/cs231n && ../../../$(BIN)/python setup.py -q build_ext --inplace

# Extract CIFAR-10 once into the cache (HW1_CIFAR10_ARCHIVE, or the official download)
# and link it where the notebooks look for it.
data: setup
	$(BIN)/hw1grade data fetch --link $(PART1)/cs231n/datasets

# The main job: grade the bundled example submission (the reference, packaged by its own
# collect_submission.sh) as a TA would: results.json, report.html and a summary table.
demo: data
	$(BIN)/hw1grade grade examples/1_cs231n.zip --out out/demo/1_cs231n
	$(BIN)/hw1grade grade examples/2_pytorch.zip --out out/demo/2_pytorch

notebooks: data
	$(BIN)/hw1grade notebooks run $(PART1) --out out/notebooks

# --durations: the slowest tests, so that each CI log says where its time went.
test: data
	$(BIN)/python -m pytest --durations=25

# While working: no real training, no notebook executed (markers `slow` and `notebook`, pyproject.toml),
# `ruff check` included; about 4 minutes on 2 cores (README, Tests). CI runs `make test`.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not notebook"

bench: data
	$(BIN)/python benchmarks/bench_fast_layers.py

clean:
	rm -rf $(VENV) build out $(PART1)/cs231n/build $(PART1)/cs231n/*.so $(PART1)/cs231n/im2col_cython.c
