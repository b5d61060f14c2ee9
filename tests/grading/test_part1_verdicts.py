"""The engine's verdicts on whole Part 1 submissions: the reference, the starter, mutants, attacks, bad zips.

Each tree is graded once (`graded(name)`), with the visible checks only (the hidden ones train on
CIFAR-10 for minutes; the full grade of the reference is a test of its own), without running its
notebooks (they earn no points), with a short per-call timeout and one Cython build for every tree.
Mutants and attacks come from fixtures/mutants.py, zips from fixtures/hostile_zips.py.
"""
import os
import re
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures import mutants
from fixtures.hostile_zips import HOSTILE_ZIPS
from graders import cli
from graders.data import cifar10
from graders.engine.grade import grade
from graders.engine.graded import Graded
from graders.engine.results import ScoredCheck, question_totals
from tests.helpers import (
    build_self_check,
    patched_in_this_process,
    results_of,
    run_self_check,
    trusted_objects,
    with_built_extension,
    with_cifar10,
)

pytestmark = [pytest.mark.slow, pytest.mark.cifar]

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / 'student' / '1_cs231n'
CALL_TIMEOUT = 10.0   # what an infinite loop costs; every correct call here takes well under a second

# The stub each check of the starter reaches first: backward checks run the submission's own forward
# pass, the trainer checks its own two_layer_net, the convnet its own ReLU.
FIRST_STUB = {
    ('Q8.1', 'test_loss'): 'softmax_loss_vectorized', ('Q8.1', 'test_gradient'): 'softmax_loss_vectorized',
    ('Q8.1', 'test_train'): 'LinearClassifier.train', ('Q8.1', 'test_predict'): 'LinearClassifier.predict',
    **{('Q8.2', check): 'two_layer_net'
       for check in ('test_scores', 'test_loss', 'test_gradients', 'test_momentum', 'test_rmsprop')},
    **{('Q8.3', f'test_{layer}_{way}'): f'{layer}_forward'
       for layer in ('affine', 'relu') for way in ('forward', 'backward')},
    **{('Q8.3', f'test_{layer}_{way}_naive'): f'{layer}_forward_naive'
       for layer in ('conv', 'max_pool') for way in ('forward', 'backward')},
    **{('Q8.4', check): 'relu_forward' for check in ('test_initial_loss', 'test_gradients', 'test_overfit_small_set')},
}


@dataclass
class Outcome:
    graded: Graded
    document: dict                                # results.json
    host_changes: list[str]                       # host files the grading created or changed
    patched_here: list[str]                       # numpy/builtins objects replaced in this process
    report: str                                   # report.html

    @property
    def checks(self) -> dict[tuple[str, str], ScoredCheck]:
        return {(s.check.question, s.check.name): s for s in self.graded.scored}

    def totals(self) -> dict[str, tuple[float, float]]:
        return question_totals(self.graded.rubric, self.graded.scored)


class Host:
    """What the attacks aim at on the host: a TCP and an abstract unix socket listening, a canary file."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(('127.0.0.1', 0))
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix_name = f'hw1grade-test-{uuid.uuid4().hex}'
        self.unix.bind('\0' + self.unix_name)
        for listener in (self.tcp, self.unix):
            listener.listen()
            listener.setblocking(False)
        self.canary = Path(tempfile.gettempdir()) / f'hw1grade-canary-{uuid.uuid4().hex}.txt'
        self.canary.write_text('canary\n')

    def connections(self) -> list[str]:
        """The listeners that were connected to."""
        reached = []
        for name, listener in (('tcp', self.tcp), ('unix', self.unix)):
            try:
                listener.accept()[0].close()
                reached.append(name)
            except BlockingIOError:
                pass
        return reached

    def close(self):
        self.tcp.close()
        self.unix.close()
        self.canary.unlink()


@pytest.fixture(scope='module')
def host():
    watched = Host()
    yield watched
    watched.close()


def attack_targets(work: Path, tree: Path, out: Path, cifar10_dir: Path, host: Host) -> dict:
    """hostile_targets.json: every place a fake results.json could matter (the out folder's own one
    included, as if guessed), the canaries; the reference, rubric, labels and the grader's own
    package; the listeners."""
    canary = work / 'canary.txt'
    canary.write_text('canary\n')
    write = [out / 'results.json', out.parent / 'results.json', tree / 'results.json', tree.parent / 'results.json',
             work.parent / 'results.json', Path(tempfile.gettempdir()) / 'results.json', Path.home() / 'results.json',
             Path.cwd() / 'results.json', ROOT / 'out' / 'grade' / tree.name / 'results.json',
             Path('/autograder/results/results.json'), canary, host.canary]
    read = [ROOT / 'graders' / 'rubric.toml', ROOT / 'graders' / 'part1' / 'test_q8_1_softmax.py',
            ROOT / 'reference' / '1_cs231n' / 'cs231n' / 'layers.py', cifar10.resolve_cache_dir(),
            cifar10_dir / 'test_batch', Path.home() / '.cache' / 'hw1grade']
    archive = os.environ.get(cifar10.ARCHIVE_ENV)
    return {'write': [str(p) for p in write] + ['results.json', '../results.json', '../../results.json',
                                                 '~/results.json', '/tmp/results.json'],
            # hostile.py, its own file, is the one that must be found: the snooping works.
            'read': ['hostile.py', *map(str, read), '~/.cache/hw1grade', 'import:graders.engine.rubric',
                     'import:graders.part1.test_q8_1_softmax', *([archive] if archive else [])],
            'connect': [['127.0.0.1', host.tcp.getsockname()[1]], host.unix_name, ['1.1.1.1', 443]]}


def snapshot(paths: list[Path]) -> dict[Path, bytes | None]:
    return {p: p.read_bytes() if p.is_file() else None for p in paths}


def grade_tree(name: str, work: Path, build_cache: Path, cifar10_dir: Path, host: Host) -> Outcome:
    """Build the tree `name` ('reference', 'starter' or a case of fixtures/mutants.py) in `work`,
    grade it into work/out, and see what changed on the host meanwhile."""
    tree, out = work / '1_cs231n', work / 'out'
    targets = attack_targets(work, tree, out, cifar10_dir, host)
    if name == 'reference':
        mutants.write_reference(tree)
    elif name == 'starter':
        tree = STARTER
    else:
        mutants.build(mutants.CASES[name], tree, targets)
    watched = [Path(p) for p in targets['write'] if Path(p).is_absolute() and Path(p) != out / 'results.json']
    before = snapshot(watched)
    trusted = trusted_objects()
    graded = grade(tree, out_dir=out, visible_only=True, notebooks=False, call_timeout=CALL_TIMEOUT,
                   build_cache=build_cache, find_cifar10=lambda: cifar10_dir)
    after = snapshot(watched)
    changes = [str(p) for p in watched if before[p] != after[p]]
    changes += [str(p) for p in work.rglob('results.json') if p != out / 'results.json']
    return Outcome(graded, results_of(out), changes, patched_in_this_process(trusted),
                   (out / 'report.html').read_text())


@pytest.fixture(scope='module')
def graded(tmp_path_factory, build_cache, cifar10_dir, host):
    """graded(name) -> Outcome, grading each tree once per module."""
    outcomes = {}

    def get(name: str) -> Outcome:
        if name not in outcomes:
            outcomes[name] = grade_tree(name, tmp_path_factory.mktemp(name), build_cache, cifar10_dir, host)
        return outcomes[name]
    return get


def assert_loses_exactly(outcome: Outcome, case: mutants.Case, reference: Outcome):
    """The case's checks fail with its message; every other check scores as the reference's."""
    assert set(outcome.checks) == set(reference.checks)
    for key, scored in outcome.checks.items():
        check = scored.check
        if key in case.failing and key[1] in case.keeps_part:   # graded by case: the passed cases' share
            assert not check.passed and 0 < scored.score < scored.max_score, f'{key}: {scored.score}'
            assert case.says in check.message, f'{key}: {check.message}'
        elif key in case.failing:
            assert not check.passed and scored.score == 0, f'{key} passed'
            assert case.says in check.message, f'{key}: {check.message}'
            assert 'could not evaluate' not in check.message
        else:
            assert check.passed == reference.checks[key].check.passed, f'{key}: {check.message}'
    lost = {q for q, (earned, _) in outcome.totals().items() if earned < reference.totals()[q][0]}
    assert lost == set(case.loses)
    for key in sorted(case.failing):   # for the log: what a student would read
        print(f'{case.name}: {key[0]} {key[1]} -> {outcome.checks[key].check.message.splitlines()[0]}')
    for test in outcome.document['tests']:
        assert test['max_score'] > 0


def test_the_reference_earns_full_marks_on_every_visible_check(graded):
    outcome = graded('reference')
    failed = {key: s.check.message for key, s in outcome.checks.items() if not s.check.passed}
    assert failed == {}
    assert not any(s.check.hidden for s in outcome.graded.scored)
    assert outcome.document['score'] == outcome.graded.max_score == 13
    assert outcome.report.count('class="pass"') == len(outcome.document['tests'])
    assert outcome.host_changes == []


def test_the_starter_earns_zero_with_each_stubs_message(graded):
    outcome = graded('starter')
    assert set(outcome.checks) == set(FIRST_STUB) == set(graded('reference').checks)
    for key, scored in outcome.checks.items():
        assert not scored.check.passed and scored.score == 0
        assert f'NotImplementedError: {FIRST_STUB[key]}:' in scored.check.message, key
        assert 'could not evaluate' not in scored.check.message
    assert outcome.document['score'] == 0
    assert sum(t['max_score'] for t in outcome.document['tests']) == pytest.approx(13, abs=1e-3)  # 4-place shares


@pytest.mark.parametrize('name', list(mutants.MUTANTS))
def test_a_mutant_loses_points_in_its_questions_only(graded, name):
    case = mutants.MUTANTS[name]
    outcome = graded(name)
    assert_loses_exactly(outcome, case, graded('reference'))
    if case.note:   # np.int: full points, and the report says why
        assert any(case.note in n for n in outcome.graded.notes)
        assert any(case.note in n for n in outcome.document['extra_data']['notes'])


@pytest.mark.parametrize('name', list(mutants.VARIANTS))
def test_a_correct_variant_keeps_every_point(graded, name):
    """Correct code written another standard way (REAL_SUBMISSIONS.md section 4) earns what the
    reference earns; what the grader converted or saw in place is a note."""
    case = mutants.VARIANTS[name]
    outcome = graded(name)
    assert_loses_exactly(outcome, case, graded('reference'))
    assert outcome.document['score'] == 13
    if case.note:
        assert any(case.note in note for note in outcome.graded.notes), outcome.graded.notes


def test_a_forward_pass_that_corrupts_its_cache_fails_through_its_values(graded):
    """The notes of a forward pass that corrupts its cache: the forward check passed with a note, the
    backward check failed through its values."""
    outcome = graded('affine_forward_flattens_x_in_place')
    assert outcome.checks[('Q8.3', 'test_affine_forward')].check.passed
    assert 'expected shape' in outcome.checks[('Q8.3', 'test_affine_backward')].check.message


@pytest.mark.parametrize('name', list(mutants.HOSTILE))
def test_an_attack_costs_its_items_only_and_leaves_the_host_alone(bubblewrap, graded, host, name):
    outcome = graded(name)
    assert_loses_exactly(outcome, mutants.HOSTILE[name], graded('reference'))
    assert outcome.host_changes == []
    assert outcome.document['tests'] and outcome.document['output'] != 'hostile: fake results'
    assert host.connections() == []
    assert not any('CONNECTED' in s.check.message for s in outcome.graded.scored)
    # Nothing the worker patched (monkeypatch_numpy_and_builtins: numpy's comparisons, abs) reached the
    # trusted process: it holds the objects it had before the grade.
    assert outcome.patched_here == []


@pytest.mark.parametrize('name', sorted(HOSTILE_ZIPS))
def test_a_hostile_zip_through_hw1grade_grade(tmp_path, capsys, cifar10_dir, name):
    """Rejected zips score every check 0 with the intake's message, out of the full 13 points; accepted
    ones say what intake did. Either way a schema-valid results.json, and nothing written elsewhere."""
    spec = HOSTILE_ZIPS[name]
    submission = spec.build(tmp_path)
    out = tmp_path / 'out'
    part = ['--part', str(spec.part)] if spec.part else []
    assert cli.main(['grade', str(submission), '--out', str(out), *part]) == 0
    document = results_of(out)
    tests = document['tests']
    assert sum(t['max_score'] for t in tests) == pytest.approx(13, abs=1e-3)  # 4-place shares
    if spec.accepted:
        assert any(spec.expect in note for note in document['extra_data']['notes'])
    else:
        assert document['score'] == 0
        assert all(t['status'] == 'failed' and t['score'] == 0 and spec.expect in t['output'] for t in tests)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([submission.name, 'out'])
    if not spec.accepted:
        assert spec.expect in capsys.readouterr().out   # the terminal summary's verdict line


# -- the students' self-check (issue 15): the same verdict as the grade above, on every tree ----------

@pytest.fixture(scope='module')
def self_check_root(tmp_path_factory):
    """The starter zip's check.py and selfcheck/, as `hw1grade starter build` makes them."""
    return build_self_check(tmp_path_factory.mktemp('selfcheck'))


@pytest.mark.parametrize('name', ['reference', 'starter', *mutants.MUTANTS, *mutants.VARIANTS])
def test_the_self_check_gives_the_graders_verdict_on_every_visible_check(graded, self_check_root, tmp_path,
                                                                        cifar10_dir, name):
    """`python check.py` in the student's folder (fixed public inputs, the reference's stored outputs,
    the student's code in-process) against `grade --visible-only` (fresh inputs, the reference, the
    sandbox): the same verdict and the same points for every check. The hostile cases are left out:
    the self-check runs the student's own code unconfined, on the student's own machine. The convnet's
    overfitting run (CIFAR-10, seconds) is compared on the trees that can change it (the reference, the
    stubs, the cases that lose Q8.4); on the others the grade above proves it scores as the reference."""
    outcome = graded(name)
    tree = tmp_path / '1_cs231n'
    if name == 'reference':
        mutants.write_reference(tree)
    elif name == 'starter':
        mutants.write_reference(tree, reference=STARTER)
    else:
        mutants.build(mutants.CASES[name], tree)
    with_cifar10(with_built_extension(tree), cifar10_dir)
    overfit = name in ('reference', 'starter') or 'Q8.4' in mutants.CASES[name].loses
    verdicts, table = run_self_check(self_check_root, tree, select=None if overfit else 'not overfit')
    mine = {(q, check): v for q, checks in verdicts.items() for check, v in checks.items()}
    theirs = {key: s for key, s in outcome.checks.items() if overfit or key[1] != 'test_overfit_small_set'}
    assert set(mine) == set(theirs), table
    for key, scored in theirs.items():
        assert mine[key]['passed'] == scored.check.passed, f'{key}: self-check {mine[key]["message"]!r}, ' \
                                                          f'grader {scored.check.message!r}'
        if overfit or key[0] != 'Q8.4':   # points shared among the same checks: the same numbers
            assert (mine[key]['score'], mine[key]['max_score']) == (scored.score, scored.max_score), key
        assert not mine[key]['own_error'], mine[key]['message']
        if name == 'starter':   # the stub's message, word for word (no input figures in it)
            assert mine[key]['message'].splitlines()[0] == scored.check.message.splitlines()[0], key
    if overfit:   # the same table: each question's line, each check's line (number, title, figures)
        from graders.engine.report import terminal_table
        def rows(text):
            return [line for line in text.splitlines() if re.match(r'  Q8\.\d |    (ok  |FAIL) ', line)]
        assert rows(table) == rows(terminal_table(outcome.graded, show_passed=True))
