"""Fixtures of the grading tests: whole submissions graded by graders/grade.py, as TAs and students do."""
import json
from pathlib import Path

import jsonschema
import pytest

from graders.results import SCHEMA_FILE

SCHEMA = json.loads(SCHEMA_FILE.read_text())


def results_of(out_dir: Path) -> dict:
    """The results.json in `out_dir`, checked against the Gradescope schema."""
    document = json.loads((Path(out_dir) / 'results.json').read_text())
    jsonschema.validate(document, SCHEMA)
    return document


@pytest.fixture(scope='session')
def build_cache(tmp_path_factory):
    """One Cython build for every tree of the session whose extension sources are the reference's."""
    return tmp_path_factory.mktemp('builds')


@pytest.fixture
def no_cifar10(monkeypatch, tmp_path):
    """A machine without CIFAR-10: no archive named, an empty hw1grade cache."""
    monkeypatch.delenv('HW1_CIFAR10_ARCHIVE', raising=False)
    monkeypatch.setenv('HW1_CACHE_DIR', str(tmp_path / 'empty-cache'))
