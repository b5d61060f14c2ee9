"""The engine's verdicts on whole Part 2 submissions: the reference, the starter, mutants, the challenge.

The reference submission is the reference's sources with real deliverables from a tiny training run
(tests/part2's tiny CIFAR-10, train.py, both notebooks, make_pdf.py), an extra.md, and a
predictions.csv that is right on every challenge image (a tiny model is at chance; the grader reads
the file as data either way). The challenge set is built from the tiny test batch. Trees are graded
without the training checks (they need real CIFAR-10 and minutes) except in the test of the flag
for a log's claim, which trains a chance-level model briefly on real CIFAR-10.
"""
import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from fixtures import part2_mutants as mutants
from graders import cli
from graders.course import selfcheck
from graders.course.part2_runs import MODELS, make_pdf, prepare_workdir, render_notebooks
from graders.data import cifar10
from graders.data.challenge import build_challenge, load_labels
from graders.engine.bridge import SubmissionRaised
from graders.engine.grade import grade
from graders.engine.results import SCHEMA_FILE, score_checks
from graders.engine.rubric import Rubric, load_rubric
from graders.part2.models import explain
from tests.helpers import run_self_check, train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / 'student' / '2_pytorch'
CALL_TIMEOUT = 30.0
EXTRA_MD = """# Extra credit: MyModel

Name: Ada Lovelace
Email: ada@example.edu

Best test accuracy: 87.6% (mymodel.log).

What I tried: a residual network with batch normalization, a one-cycle learning rate schedule,
label smoothing, random flips and translations, and averaging each image with its mirror image at
test time. Wider networks were slower without being more accurate within twenty minutes.
"""


def results_of(out_dir: Path) -> dict:
    """The results.json in `out_dir`, checked against the Gradescope schema."""
    document = json.loads((out_dir / 'results.json').read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    return document


def with_settings(rubric: Rubric, **tables) -> Rubric:
    """The rubric with some keys of some setting tables replaced: with_settings(r, challenge={'labels': p})."""
    settings = dict(rubric.settings)
    for table, values in tables.items():
        settings[table] = {**settings[table], **values}
    return replace(rubric, settings=settings)


@pytest.fixture(scope='module')
def base(tmp_path_factory, tiny_cifar_root):  # noqa: F811
    """(reference submission folder, rubric scoring the challenge against its labels)."""
    work_dir = tmp_path_factory.mktemp('part2-reference')
    images, labels_path = build_challenge(tiny_cifar_root / cifar10.TEST_BATCH, work_dir / 'challenge')
    work = prepare_workdir(work_dir / 'work', tiny_cifar_root, images)
    for model in MODELS:
        train(work, model)
    runs = render_notebooks(work)
    assert all(run.ok for run in runs.values()), {name: run.errors for name, run in runs.items()}
    make_pdf(work)
    submission = work_dir / '2_pytorch'
    shutil.copytree(work, submission, ignore=shutil.ignore_patterns('data', '__pycache__'))
    (submission / 'extra.md').write_text(EXTRA_MD)
    labels = load_labels(labels_path).labels
    (submission / 'predictions.csv').write_text(
        'image_id,label\n' + ''.join(f'{i},{label}\n' for i, label in enumerate(labels)))
    return submission, with_settings(load_rubric(), challenge={'labels': str(labels_path)})


def grade_tree(path: Path, rubric: Rubric, out: Path, select: str, **options):
    graded = grade(path, out_dir=out, rubric=rubric, select=select, call_timeout=CALL_TIMEOUT, **options)
    return graded, results_of(out)


def checks(graded) -> dict:
    return {(s.check.question, s.check.name): s for s in graded.scored}


@pytest.fixture(scope='module')
def self_check_root(tmp_path_factory):
    """The starter zip's check.py and selfcheck/, as `hw1grade starter build` makes them (Part 2's checks
    compare with no recorded output: Part 1's recording is left out)."""
    root = tmp_path_factory.mktemp('selfcheck')
    selfcheck.write(selfcheck.source_files(), root)
    return root


def assert_the_self_check_agrees(self_check_root, path: Path, graded, select: str, stubs: bool = False) -> dict:
    """`python check.py --part 2` on the tree the grader just graded (issue 15): the same verdict and
    points for every visible check the grade ran (the hidden training and challenge checks are not in
    the self-check), the stubs' first message line word for word. It reuses this module's gradings:
    each tree is graded once, by the test that proves its verdicts. The points are those of
    `grade --visible-only`: each question's points shared among its visible checks that ran
    (results.score_checks on the grade's own results of those checks)."""
    verdicts, table = run_self_check(self_check_root, path, part=2, select=select)
    mine = {(q, check): v for q, found in verdicts.items() for check, v in found.items()}
    rubric = load_rubric()
    hidden = {(q.id, name) for q in rubric.for_part(2) for name in q.hidden}
    visible = [s.check for key, s in checks(graded).items() if key not in hidden]
    theirs = {(s.check.question, s.check.name): s for s in score_checks(rubric, visible)}
    assert set(mine) == set(theirs), table
    for key, scored in theirs.items():
        assert mine[key]['passed'] == scored.check.passed, f'{key}: self-check {mine[key]["message"]!r}, ' \
                                                          f'grader {scored.check.message!r}'
        assert (mine[key]['score'], mine[key]['max_score']) == (scored.score, scored.max_score), key
        assert not mine[key]['own_error'], mine[key]['message']
        if stubs:
            assert mine[key]['message'].splitlines()[0] == scored.check.message.splitlines()[0], key
    return verdicts


@pytest.fixture(scope='module')
def reference(base, tmp_path_factory):
    submission, rubric = base
    return grade_tree(submission, rubric, tmp_path_factory.mktemp('out'), 'not test_training')


def test_the_reference_earns_every_point_but_the_training_runs(reference):
    graded, document = reference
    failed = {key: s.check.message for key, s in checks(graded).items() if not s.check.passed}
    assert failed == {}
    assert {q for q, _ in checks(graded)} == {'Q8.5', 'Q8.6', 'Q8.7', 'Q8.8'}
    assert not any(name == 'test_training' for _, name in checks(graded))
    assert document['score'] == pytest.approx(sum(t['max_score'] for t in document['tests']), abs=1e-3) == 16
    assert document['leaderboard'] == [
        {'name': 'Public accuracy (10% split)', 'value': 1.0, 'order': 'desc'},
        {'name': 'Accuracy (all challenge images)', 'value': 1.0, 'order': 'desc'}]
    assert 'accuracy 1.0' in document['output']
    # The sizes came from the run scripts: the reference's TwoLayerNN has 512 hidden units.
    assert not any('was built with' in note for note in graded.notes)


def test_the_self_check_passes_the_reference_as_the_grader_does(base, reference, self_check_root):
    assert_the_self_check_agrees(self_check_root, base[0], reference[0], 'not test_training')


def test_the_starter_earns_zero_with_clear_messages(base, tmp_path, self_check_root):
    _, rubric = base
    graded, document = grade_tree(STARTER, rubric, tmp_path / 'out', 'not test_training')
    assert document['score'] == 0
    copy = shutil.copytree(STARTER, tmp_path / '2_pytorch')   # student/ stays as generated
    assert_the_self_check_agrees(self_check_root, copy, graded, 'not test_training', stubs=True)
    for (question, name), scored in checks(graded).items():
        message = scored.check.message
        assert not scored.check.passed and message, (question, name)
        assert 'could not evaluate' not in message
        if name in ('test_forward', 'test_architecture'):
            assert 'NotImplementedError: ' in message and '.__init__: create the layers' in message
        elif name.startswith('test_beats'):
            assert 'predictions.csv is missing' in message
        elif name == 'test_extra':   # the starter hands out an extra.md template to fill in
            assert 'extra.md lacks your name' in message
        else:
            assert 'is missing' in message, (question, name, message)


def assert_loses_exactly(graded, failing: dict, reference):
    """The checks in `failing` fail with the message fragments it maps them to; every other check passes
    (as the reference's do)."""
    mine = checks(graded)
    if reference is not None:
        assert set(mine) <= set(checks(reference))
    for key, scored in mine.items():
        if key in failing:
            assert not scored.check.passed and scored.score == 0, f'{key} passed'
            assert failing[key] in scored.check.message, f'{key}: {scored.check.message}'
        else:
            assert scored.check.passed, f'{key}: {scored.check.message}'


def test_model_mutants_and_files_swapped_under_the_grader(base, reference, tmp_path, self_check_root):
    submission, rubric = base
    host_log = tmp_path / 'host.log'
    host_log.write_text((submission / 'twolayernn.log').read_text())   # a complete log: if followed, it passes
    tree = mutants.model_changes(host_log)
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    graded, _ = grade_tree(path, rubric, tmp_path / 'out', tree.select)
    assert_loses_exactly(graded, tree.failing, reference[0])
    assert_the_self_check_agrees(self_check_root, path, graded, tree.select)


def assert_noted(graded, tree):
    for expected in tree.notes:
        assert any(expected in note for note in graded.notes), (expected, graded.notes)


def test_log_plot_and_cuda_mutants_lose_exactly_their_checks(base, reference, tmp_path, self_check_root):
    """... and a model calling .cuda(), .to('cuda'), torch.device('cuda') and map_location='cuda' runs on
    the CPU with a note."""
    submission, rubric = base
    tree = mutants.LOG_CHANGES
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    graded, _ = grade_tree(path, rubric, tmp_path / 'out', tree.select)
    assert_loses_exactly(graded, tree.failing, reference[0])
    assert_the_self_check_agrees(self_check_root, path, graded, tree.select)
    assert_noted(graded, tree)


def test_plots_under_students_names_and_the_pdf_beside_the_zip_cost_nothing(base, reference, tmp_path, self_check_root):
    """conv_/CNN_ names, Q8.7's twolayernn_* name for the convnet's curves, a plot in its model's folder,
    MyModel without a filter grid, and 2_pytorch.pdf uploaded beside the submission (not in it)."""
    submission, rubric = base
    tree = mutants.NAME_CHANGES
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    assert (tmp_path / '2_pytorch.pdf').is_file() and not (path / '2_pytorch.pdf').exists()
    graded, _ = grade_tree(path, rubric, tmp_path / 'out', tree.select)
    assert_loses_exactly(graded, tree.failing, reference[0])
    assert_the_self_check_agrees(self_check_root, path, graded, tree.select)
    assert_noted(graded, tree)
    assert 'uploaded beside the zip' in checks(graded)[('Q8.5', 'test_pdf')].check.measured['pdf']
    assert 'mymodel_gridfilt' not in checks(graded)[('Q8.8', 'test_mymodel_deliverables')].check.measured['plots']


def test_plots_under_other_names_and_a_hostile_checkpoint(base, reference, tmp_path, self_check_root):
    submission, rubric = base
    marker = tmp_path / 'unpickled.txt'
    tree = mutants.plot_changes(marker)
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    graded, _ = grade_tree(path, rubric, tmp_path / 'out', tree.select)
    assert_loses_exactly(graded, tree.failing, reference[0])
    assert_the_self_check_agrees(self_check_root, path, graded, tree.select)
    plots = checks(graded)[('Q8.6', 'test_plots')].check.measured['plots']
    assert 'TwoLayerNN-loss_vs_train.PNG' in plots
    assert 'convnet_figure3.png' in checks(graded)[('Q8.7', 'test_plots')].check.message  # named as a hint
    assert not marker.exists(), 'something unpickled the submitted mymodel.pt'


@pytest.mark.parametrize('tree', mutants.prediction_trees(60), ids=lambda t: t.name)
def test_a_broken_predictions_file_loses_the_challenge(base, reference, tmp_path, tree):
    submission, rubric = base
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    graded, document = grade_tree(path, rubric, tmp_path / 'out', tree.select)
    assert set(checks(graded)) == set(mutants.CHALLENGE)
    assert_loses_exactly(graded, tree.failing, reference[0])
    assert document['score'] == 0 and 'leaderboard' not in document


@pytest.mark.cifar
def test_training_runs_flag_false_claims_and_slow_models(base, tmp_path, cifar10_dir):
    """A chance-level Softmax whose log claims 90% is flagged; a CNN over the time budget is sent to
    manual review while its deliverables keep their points (short runs on real CIFAR-10)."""
    submission, rubric = base
    tree = mutants.Tree('claims', (
        mutants.Change('a chance-level model', mutants.replace_once(
            mutants.SOFTMAX, 'return self.linear(images.flatten(1))', 'return self.linear(images.flatten(1)) * 0'),
            (('Q8.5', 'test_training'),), 'below 0.17'),
        mutants.Change('a log claiming 90%', mutants.claim_accuracy('softmax.log', 9000, 10000)),
    ), select='test_q8_5 or test_q8_7')
    path = mutants.build(tree, submission, tmp_path / '2_pytorch')
    runs = rubric.settings['part2_training']
    quick = with_settings(rubric, part2_training={
        'softmax': {**runs['softmax'], 'train_images': 1000, 'heldout_images': 500},
        'convnet': {**runs['convnet'], 'timeout': 1}})
    graded, document = grade_tree(path, quick, tmp_path / 'out', tree.select, find_cifar10=lambda: cifar10_dir)
    outcome = checks(graded)
    slow = {('Q8.7', 'test_training'): 'flagged for manual review'}
    assert_loses_exactly(graded, {**tree.failing, **slow}, reference=None)
    log = outcome[('Q8.5', 'test_log')].check
    assert log.measured['claimed test accuracy'] == 0.9 and log.measured["grader's accuracy"] < 0.2
    # Review flags as the checks typed them (Note.review): what batch's review column reads.
    assert any(flag.startswith('flagged for review: softmax.log claims 0.900') for flag in graded.review)
    assert 'flagged for review' in document['output']
    assert any(flag.startswith('manual review: CNN did not finish') for flag in graded.review)


def test_the_leaderboard_ranks_a_folder_of_submissions(base, tmp_path, capsys):
    submission, rubric = base
    labels_path = Path(rubric.settings['challenge']['labels'])
    folder = tmp_path / 'submissions'
    folder.mkdir()
    shutil.make_archive(str(folder / 'ada'), 'zip', submission)
    guesser = mutants.build(mutants.Tree('guess', (mutants.Change('constant guesses', mutants.predictions(
        ['image_id,label', *(f'{i},3' for i in range(60))])),)), submission, folder / 'bob')
    mutants.build(mutants.prediction_trees(60)[0], submission, folder / 'cleo')
    assert cli.main(['leaderboard', str(folder), '--labels', str(labels_path), '--out', str(tmp_path / 'out')]) == 0
    with open(tmp_path / 'out' / 'leaderboard.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    labels = load_labels(labels_path)
    constant = np.mean(labels.labels == 3)
    assert [(r['name'], r['rank'], r['accuracy']) for r in rows] == [
        ('ada', '1', '1.0000'), ('bob', '2', f'{constant:.4f}'), ('cleo', '', '')]
    assert rows[1]['public_accuracy'] == f'{np.mean(labels.labels[labels.public_ids] == 3):.4f}'
    assert 'image_id,label' in rows[2]['problem']
    assert guesser.name in (tmp_path / 'out' / 'leaderboard.html').read_text()
    table = capsys.readouterr().out
    assert table.index('ada') < table.index('bob') < table.index('cleo')


def test_a_model_needing_the_internet_is_told_so():
    err = SubmissionRaised('`build_model`', 'URLError', '<urlopen error [Errno -3] Temporary failure in name '
                           'resolution>', '  File "models/mymodel.py", line 9, in __init__\n')
    message = explain(err)
    assert message.startswith('URLError: <urlopen error') and 'models/mymodel.py' in message
    assert 'the grader runs it without network access' in message
