"""The class dashboard (index.html) built from a status tree written here: counts, histograms, the checks
failed most, failures by template, claimed vs measured, leaderboard, links; rendered in headless Chromium."""
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures import mutants
from graders.classroom.batch import run_batch
from graders.classroom.dashboard import templates
from graders.classroom.gradebook import write_class_outputs
from graders.classroom.leaderboard import FULL, PUBLIC
from graders.cli import main
from graders.engine.rubric import load_rubric
from tests.helpers import CONV, EXAMPLES, FAST, check, render, write_status


def conv_failure(rng) -> str:
    """A Cases message as graders/engine/checks.py writes it, with this student's own numbers."""
    shape = f'({rng.integers(2, 4)}, 3, {rng.integers(5, 8)}, {rng.integers(5, 8)})'
    return ('2 of 5 cases failed (the 3 others earn their share of this check):\n'
            f'- conv_backward_naive dx for x {shape}, w (4, 3, 3, 3), stride 1, pad 0: relative error '
            f'{rng.uniform(0.1, 0.9):.2e} (allowed 1e-07); at index (0, 1, 2, 3) expected {rng.normal():.6g}, '
            f'got {rng.normal():.6g}\n'
            f'- conv_backward_naive dw for x {shape}, w (4, 3, 3, 3), stride 2, pad 1: relative error '
            f'{rng.uniform(0.1, 0.9):.2e} (allowed 1e-07)')


def make_class(out: Path) -> Path:
    """s1-s6 graded in Part 1 (s1-s5 fail conv_backward_naive the same way, s6 a hostile message),
    s1-s3 Part 2 with log claims and a leaderboard accuracy, s4's Part 2 invalid, s7 a grader error, s8 a
    timeout."""
    rng = np.random.default_rng(0)
    for i in range(1, 7):
        conv = check(CONV, 'failed', 0.4, 1.0, conv_failure(rng)) if i <= 5 else \
            check(CONV, 'failed', 0.0, 1.0, "NameError: name 'velocty' is not defined <script>alert(1)</script>")
        write_status(out, f's{i}', 'part1', checks=[check('Q8.1/test_loss', score=1.5, max_score=1.5), conv],
                     notebooks=[{'name': 'softmax.ipynb', 'claimed': {'test': 0.38 + i / 100},
                                 'measured': {'test': 0.37}, 'flags': []}])
    for i in range(1, 4):
        claimed = 0.55 if i < 3 else 0.95
        log = check('Q8.5/test_log', measured={'claimed test accuracy': claimed, "grader's accuracy": 0.35,
                                               **({'flag': 'claim'} if i == 3 else {})})
        write_status(out, f's{i}', 'part2', checks=[log, check('Q8.8/test_beats_chance', score=4, max_score=4)],
                     leaderboard=[{'name': PUBLIC, 'value': 0.5 + i / 50, 'order': 'desc'},
                                  {'name': FULL, 'value': 0.5 + i / 40, 'order': 'desc'}])
    write_status(out, 's4', 'part2', status='invalid', message='damaged zip')
    write_status(out, 's7', 'part1', status='grader-error', message='sandbox unavailable')
    write_status(out, 's8', 'part2', status='timeout', message='took longer than 3600 s')
    return out


def test_templates_ignore_numbers_shapes_and_names_but_keep_the_case():
    rng = np.random.default_rng(1)
    first, second = templates(conv_failure(rng)), templates(conv_failure(rng))
    assert first == second and len(first) == 2
    assert 'stride 1, pad 0' in first[0] and 'stride 2, pad 1' in first[1]
    assert '<shape>' in first[0] and '<x>' in first[0]
    assert templates("NameError: name 'velocty' is not defined\n  File /tmp/x/layers.py, line 12") == \
        ["NameError: name '<name>' is not defined"]
    assert templates('`cs231n.layers.conv2d` raised: 12345 of 1.5e-3 and -0.25.') == \
        ['`cs231n.layers.conv2d` raised: <x> of <x> and <x>.']


def test_the_dashboard_shows_the_class_at_a_glance_and_renders(tmp_path):
    out = make_class(tmp_path / 'out')
    write_class_outputs(out, load_rubric(), log=lambda line: None)
    page = (out / 'index.html').read_text()
    # status counts: part1 6 graded 1 grader-error 1 missing; part2 3 graded 1 invalid 1 timeout 3 missing
    def row(label):
        return re.search(rf'<tr><td>{label}</td>(.*?)<td><svg', page).group(1)
    assert re.findall(r'>(\d+)<', row('part1')) == ['6', '0', '1', '0', '0', '1']
    assert re.findall(r'>(\d+)<', row('part2')) == ['3', '1', '0', '1', '0', '3']
    assert page.count('<figure>') == 8   # one histogram per question
    # the check failed most, by all six graded students, with an example
    assert re.search(rf'<td class="num">6 of 6</td><td><b>{re.escape(CONV)}</b>', page)
    # one template for the five students' pad 0 case, whatever their numbers
    assert re.search(r'<td class="num"><b>5</b></td><td><b>Q8\.3/test_conv_backward_naive</b>: '
                     r'conv_backward_naive dx for x &lt;shape&gt;, w &lt;shape&gt;, stride 1, pad 0', page)
    assert '&lt;script&gt;alert(1)' in page and '<script' not in page
    # claimed vs measured: 3 Part 2 logs and 6 notebooks, s3's flagged claim outlined
    assert page.count('<circle cx=') - page.count('r="4" fill=') == 9
    assert 's3, Q8.5 log (Part 2): claimed 0.950, measured 0.350 (flagged)' in page
    assert '<td class="num">1</td><td>s3</td>' in page   # leaderboard
    for student, label in [('s1', 'part1'), ('s1', 'part2'), ('s7', 'part1'), ('s8', 'part2')]:
        assert f'href="{student}/{label}/report.html"' in page
    image, console = render(out / 'index.html', tmp_path)
    assert console == []
    assert np.count_nonzero(image < 200) > 5000, 'the screenshot is blank'
    assert np.count_nonzero(np.abs(np.diff(image.astype(int), axis=0)) > 40) > 2000   # text and charts, not a fill


def test_an_old_status_without_checks_still_builds(tmp_path):
    out = tmp_path / 'out'
    record = write_status(out, 'old', 'part1', questions={'Q8.1': (3, 3)})
    del record['checks'], record['notebook_figures']
    (out / 'old' / 'part1' / 'status.json').write_text(json.dumps(record))
    write_class_outputs(out, load_rubric(), log=lambda line: None)
    assert 'No check failed' in (out / 'index.html').read_text()


@pytest.mark.slow
def test_a_batch_of_the_examples_and_mutants_gives_the_dashboard_and_overrides_survive_a_rerun(tmp_path, capsys):
    """One real batch: the bundled examples, two students with the same conv_backward bug, one whose
    predict returns scores; an override written after it, then a re-run that grades nothing."""
    folder = tmp_path / 'class'
    folder.mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', folder / 'alice_1_cs231n.zip')
    (folder / 'bob').mkdir()
    shutil.copy(EXAMPLES / '2_pytorch.zip', folder / 'bob' / '2_pytorch.zip')
    for student, case in [('carol', 'conv_backward_ignores_stride'), ('dave', 'conv_backward_ignores_stride'),
                          ('erin', 'predict_returns_scores')]:
        mutants.build(mutants.MUTANTS[case], folder / student)
    options = replace(FAST, select='test_loss or test_forward or test_predict or test_conv_backward_naive')
    out = tmp_path / 'out'
    counts = run_batch(folder, out, workers=2, options=options, log=lambda line: None)
    assert counts == {'graded': 5, 'skipped': 0, 'lost': 0}
    page = (out / 'index.html').read_text()
    assert re.search(rf'<td class="num">2 of 4</td><td><b>{re.escape(CONV)}</b>', page)
    assert re.search(rf'<td class="num"><b>2</b></td><td><b>{re.escape(CONV)}</b>: conv_backward_naive d\w+ for x '
                     r'&lt;shape&gt;, w &lt;shape&gt;, stride 2', page)
    assert 'Q8.1/test_predict' in page and '<figure>' in page and 'href="bob/part2/report.html"' in page

    carol = json.loads((out / 'carol' / 'part1' / 'status.json').read_text())
    conv = next(c for c in carol['checks'] if c['id'] == CONV)
    assert conv['status'] == 'failed' and conv['score'] < conv['max_score']
    (out / 'overrides.csv').write_text('student,check,points,reason,who\n'
                                       f'carol,{CONV},full,'
                                       'stride 2 case was not in the assignment,TA Kim\n')
    assert main(['gradebook', str(out)]) == 0
    expected = round(carol['score'] - conv['score'] + conv['max_score'], 2)
    for _ in range(2):   # applied by gradebook, and again by a re-run that grades nothing
        book = pd.read_csv(out / 'gradebook.csv').set_index('student')
        assert book.loc['carol', 'total'] == pytest.approx(expected)
        assert book.loc['carol', 'machine total'] == pytest.approx(carol['score'])
        assert book.loc['dave', 'total'] == pytest.approx(carol['score'])
        assert (out / 'carol' / 'part1' / 'report.html').read_text().count('Staff overrides') == 1
        # Nothing changed: everything is skipped (a grader source edited meanwhile regrades all: the same here).
        again = run_batch(folder, out, options=options, log=lambda line: None)
        assert again['lost'] == 0 and again['skipped'] + again.get('graded', 0) == 5
    image, console = render(out / 'index.html', tmp_path)
    assert console == [] and np.count_nonzero(image < 200) > 5000


def test_a_notebooks_claims_reach_the_scatter_as_numbers():
    """graders/notebooks/grading.py -> status.json's notebook_figures -> the dashboard's points."""
    from graders.classroom.dashboard import claim_points
    from graders.classroom.records import notebook_entries, read_part
    from graders.notebooks import grading as ng
    from graders.notebooks.figures import HW1GRADE
    from graders.notebooks.runner import probes_without_test_labels
    from tests.helpers import notebook, summary
    parsed = ng.parse_summary(summary(errors=[], executed=[1, 2, 3],
                                      probes={'val_acc': 0.41, 'test_predictions': [3, 1, 4, 1]}),
                              list(probes_without_test_labels('softmax.ipynb')))
    report = ng.notebook_report('softmax.ipynb', notebook('a', 'b', 'c'), {'test': 0.52, 'validation': 0.40},
                                parsed, np.array([3, 1, 4, 0, 9]), starter=HW1GRADE)
    entries = notebook_entries([report])
    assert entries[0]['claimed'] == {'test': 0.52, 'validation': 0.40} and entries[0]['measured']['test'] == 0.75
    part = read_part({'student': 'ann', 'label': 'part1', 'status': 'graded', 'notebook_figures': entries})
    (point,) = [p for p in claim_points([part]) if p.series == 'softmax.ipynb test']
    assert (point.claimed, point.measured, point.flagged) == (0.52, 0.75, True)
