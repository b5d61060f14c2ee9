"""Issue 19's attacks through `grade()` (fixtures/hostile_trees.py): a submission that forges every reply of
the worker, and one that booby-traps its scratch tree and the build cache for the next student."""

import pytest

from fixtures import hostile_trees as ht
from fixtures import mutants
from graders.engine.grade import grade
from graders.engine.report import terminal_table
from tests.helpers import results_of

# Bytes a terminal obeys, as they would appear raw or escaped in a JSON or HTML file.
TERMINAL_BYTES = ('\x1b', '\x9b', '\x07', '\u202e', '\r')
ESCAPED = (b'\\u001b', b'\\u009b', b'\\u0007', b'\\u202e', b'\\r', b'\x1b', b'\x9b', b'\x07')
# The checks that need the Cython extension and the submission's layers, and two that run before them
# (a worker that could not start for the first, a passing failure on a loaded machine, starts for the second).
BUILD_CHECKS = '(q8_3 and (affine_forward or relu_forward)) or (q8_4 and (initial_loss or gradients))'
# Checks of two question files (each has its own worker, each forged), a hidden training run among
# them. Every forged reply costs the sandbox seconds to make (23 MB); that all checks' outputs together
# stay under 1 MB is shown on a 60-test document in tests/engine/test_untrusted.py.
FORGED_CHECKS = '(q8_1 and (test_loss or cifar10_accuracy)) or (q8_3 and affine_forward)'


pytestmark = pytest.mark.usefixtures('bubblewrap')


@pytest.mark.slow
def test_forged_replies_are_bounded_and_cleaned_everywhere(tmp_path, build_cache, cifar10_dir):
    tree = ht.write_forging_tree(tmp_path / '1_cs231n')
    out = tmp_path / 'out'
    graded = grade(tree, out_dir=out, notebooks=False, call_timeout=120, build_cache=build_cache,
                   find_cifar10=lambda: cifar10_dir, select=FORGED_CHECKS, preflight=False)
    raw = (out / 'results.json').read_bytes()
    document = results_of(out)                          # schema-valid
    assert len(raw) < 1_000_000
    assert not [b for b in ESCAPED if b in raw]
    report = (out / 'report.html').read_text()
    table = terminal_table(graded, show_passed=True)
    assert not [c for c in TERMINAL_BYTES if c in report or c in table]
    assert len(report) < 2_000_000 and len(table) < 300_000
    assert len(document['tests']) == 3 and all(t['score'] == 0 for t in document['tests'])
    assert any('Passed' in t['output'] and 'cut by the grader' in t['output'] for t in document['tests'])
    assert any('more notes than the grader keeps' in n for n in graded.notes)
    assert len(graded.notes) < 1000


@pytest.mark.slow
def test_a_booby_trapped_tree_reads_and_writes_no_host_file_and_poisons_no_one(tmp_path, cifar10_dir):
    secret = ht.host_secret(tmp_path / 'host')
    before = secret.read_bytes()
    cache = tmp_path / 'build-cache'
    attacker = mutants.write_reference(tmp_path / 'attacker' / '1_cs231n')
    ht.write_plan(attacker, ht.part1_plan(secret))
    ht.plant_at_import(attacker)          # the traps are set when the first worker imports cs231n
    # Generous call timeouts: on a loaded machine a timed-out first import would leave the traps unset.
    attacked = grade(attacker, out_dir=tmp_path / 'attacker-out', notebooks=False, call_timeout=120,
                     build_cache=cache, find_cifar10=lambda: cifar10_dir, select=BUILD_CHECKS, preflight=False)
    # The precondition of what follows: the attacker's import ran (its poisoned module is what failed).
    before_build = [s.check for s in attacked.scored if s.check.question == 'Q8.3']
    assert any('invalid ELF header' in c.message for c in before_build), [c.message for c in before_build]
    token = before.strip()
    outputs = [tmp_path / 'attacker-out' / 'results.json', tmp_path / 'attacker-out' / 'report.html']
    assert not [p for p in outputs if token in p.read_bytes()]
    assert token.decode() not in terminal_table(attacked, show_passed=True)
    assert secret.read_bytes() == before and secret.stat().st_uid == 0 and secret.stat().st_mode & 0o777 == 0o600
    assert any('build cache was neither used nor filled' in n for n in attacked.notes), attacked.notes
    assert not cache.exists() or not any(cache.iterdir())

    honest = mutants.write_reference(tmp_path / 'honest' / '1_cs231n')
    graded = grade(honest, out_dir=tmp_path / 'honest-out', notebooks=False, call_timeout=120,
                   build_cache=cache, find_cifar10=lambda: cifar10_dir, select=BUILD_CHECKS, preflight=False)
    checks = {s.check.name: s for s in graded.scored if s.check.question == 'Q8.4'}
    assert set(checks) == {'test_initial_loss', 'test_gradients'}
    assert all(s.check.passed for s in checks.values()), [s.check.message for s in checks.values()]
    assert len(list(cache.iterdir())) == 1          # the honest build, kept for the next student
    assert secret.read_bytes() == before
