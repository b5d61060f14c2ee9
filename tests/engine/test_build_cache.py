"""The build cache: identical extension sources are compiled once, and only those sources reach the build."""
import pytest

from graders.engine.bridge import Worker
from graders.part1.build import build_extension, source_digest
from tests.helpers import PYX, STARTER_PYX, write_package


def counting_runs(sandbox):
    """Count the commands the sandbox runs (a reused build runs none)."""
    runs = []
    original = sandbox.run

    def run(*args, **kwargs):
        runs.append(args)
        return original(*args, **kwargs)
    sandbox.run = run
    return runs


@pytest.mark.slow
def test_identical_sources_are_built_once(tmp_path, make_sandbox):
    cache = tmp_path / 'cache'
    first, second = tmp_path / 'first', tmp_path / 'second'
    for root in (first, second):
        root.mkdir()
        write_package(root, PYX)
    built = build_extension(first, make_sandbox(first), cache_dir=cache)
    assert built.ok, built.message
    assert [p.name for p in cache.iterdir()] == [source_digest(first / 'cs231n')]
    sandbox = make_sandbox(second)
    runs = counting_runs(sandbox)
    reused = build_extension(second, sandbox, cache_dir=cache)
    assert reused.ok and 'reused' in reused.message and reused.notes == built.notes
    assert runs == []
    assert not [p for p in (second / 'cs231n').iterdir() if p.name.startswith('.hw1grade-build')]
    with Worker(second, sandbox) as worker:
        assert worker.call('cs231n.im2col_cython:out_size', 32, 1, 3, 2) == 16


def test_the_digest_covers_the_sources_and_nothing_else(tmp_path):
    pkg = write_package(tmp_path, PYX)
    digest = source_digest(pkg)
    (pkg / 'layers.py').write_text('# the student code the checks grade\n')
    assert source_digest(pkg) == digest
    (pkg / 'im2col_cython.pyx').write_text(PYX + '\n# edited\n')
    assert source_digest(pkg) != digest


@pytest.mark.slow
def test_a_cached_build_sees_only_the_extension_sources(tmp_path, make_sandbox):
    """A module beside setup.py that shadows what it imports (here numpy) breaks an in-place
    build; a cached build never sees it, so it cannot change what lands in the cache."""
    root = tmp_path / 'submission'
    root.mkdir()
    pkg = write_package(root, STARTER_PYX)
    (pkg / 'numpy.py').write_text('raise SystemExit("a shadowing module ran in the build")\n')
    result = build_extension(root, make_sandbox(root), cache_dir=tmp_path / 'cache')
    assert result.ok, result.message
    in_place = build_extension(root, make_sandbox(root))
    assert not in_place.ok and 'a shadowing module ran in the build' in in_place.message
