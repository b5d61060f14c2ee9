"""`hw1grade similarity`: copies flagged, independent correct solutions and untouched starters not, the
HTML report rendered in headless Chromium, hostile inputs read as text only, the batch index's link."""
import argparse
import csv
import importlib.util
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fixtures import similarity as fx
from graders.classroom import similarity
from graders.classroom.gradebook import write_class_outputs
from graders.cli import main
from graders.engine.rubric import load_rubric
from tests.helpers import render

REPO = Path(__file__).resolve().parents[1]


def flagged_rows(out: Path) -> list[dict]:
    with open(out / 'similarity.csv', newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------- fixtures

def check_part1_function(function: str, mine, rng) -> None:
    """`mine` computes what the reference's `function` computes, on random inputs."""
    from cs231n import layers
    from cs231n.classifiers import neural_net, softmax
    if function == 'softmax_loss_vectorized':
        W, X, y = rng.normal(size=(5, 7)) * 0.1, rng.normal(size=(7, 9)), rng.integers(0, 5, 9)
        got, want = mine(W, X, y, 0.0), softmax.softmax_loss_vectorized(W, X, y, 0.0)
    elif function == 'two_layer_net':
        model = {'W1': rng.normal(size=(6, 8)), 'b1': rng.normal(size=8), 'W2': rng.normal(size=(8, 4)),
                 'b2': rng.normal(size=4)}
        X, y = rng.normal(size=(5, 6)), rng.integers(0, 4, 5)
        got, want = mine(X, dict(model), y, 0.1), neural_net.two_layer_net(X, dict(model), y, 0.1)
        got, want = [got[0], *(got[1][k] for k in sorted(model))], [want[0], *(want[1][k] for k in sorted(model))]
    elif function.startswith('conv'):
        x, w, b, param = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), \
            {'stride': 2, 'pad': 1}
        out, cache = layers.conv_forward_naive(x, w, b, param)
        dout = rng.normal(size=out.shape)
        got, want = ((mine(x, w, b, param)[0], out) if function == 'conv_forward_naive'
                     else (mine(dout, cache), layers.conv_backward_naive(dout, cache)))
    else:
        x, param = rng.normal(size=(2, 3, 7, 7)), {'pool_height': 2, 'pool_width': 3, 'stride': 2}
        out, cache = layers.max_pool_forward_naive(x, param)
        dout = rng.normal(size=out.shape)
        got, want = ((mine(x, param)[0], out) if function == 'max_pool_forward_naive'
                     else (mine(dout, cache), layers.max_pool_backward_naive(dout, cache)))
    as_list = lambda value: list(value) if isinstance(value, (tuple, list)) else [value]   # noqa: E731
    for a, b in zip(as_list(got), as_list(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize('function', fx.functions())
def test_the_independent_solutions_are_correct(function):
    """Each fixture solution does what the reference does (so 'independent correct solutions' is true)."""
    rng = np.random.default_rng(0)
    for variant, text in fx.variants(function).items():
        space = {'np': np}
        if function != 'train.py optimizer and update':   # two snippets, run below
            exec(compile(text, f'{function}/{variant}.py', 'exec'), space)   # our own fixture code
        if function == 'ClassifierTrainer updates':
            from cs231n.classifier_trainer import ClassifierTrainer
            mine, theirs = ClassifierTrainer(), ClassifierTrainer()
            mine._step = space['_step'].__get__(mine)
            for update in ('momentum', 'rmsprop'):
                for _ in range(3):
                    grad = rng.normal(size=(3, 4))
                    np.testing.assert_allclose(mine._step(update, grad, update, 1e-2, 0.9),
                                               theirs._step(update, grad, update, 1e-2, 0.9),
                                               rtol=1e-3,   # eps inside or outside the square root
                                               err_msg=f'{variant} {update}')
        elif function == 'train.py optimizer and update':
            import torch
            import torch.nn.functional as F
            torch.manual_seed(0)
            model = torch.nn.Linear(4, 3)
            before = [p.detach().clone() for p in model.parameters()]
            optimizer_lines, update_lines = text.split('# update step\n')
            space.update(torch=torch, F=F, model=model, criterion=F.cross_entropy, images=torch.randn(5, 4),
                         targets=torch.tensor([0, 1, 2, 0, 1]),
                         args=argparse.Namespace(lr=0.1, momentum=0.9, weight_decay=0.0))
            exec(compile(optimizer_lines, variant, 'exec'), space)
            assert isinstance(space['optimizer'], torch.optim.Optimizer), variant
            exec(compile(update_lines, variant, 'exec'), space)
            assert space['loss'].dim() == 0 and any(
                not torch.equal(a, b) for a, b in zip(before, model.parameters())), variant
        elif function == 'CNN model':
            import torch
            model = space['CNN']((3, 32, 32), 8, 5, 10)
            kernels = {m.kernel_size for m in model.modules() if isinstance(m, torch.nn.Conv2d)}
            assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10) and (5, 5) in kernels, variant
        else:
            check_part1_function(function, space[function], rng)


def test_disguised_copies_differ_in_text_but_not_in_behaviour():
    """The disguise renames, reorders and recomments, and the copy still computes the same."""
    from cs231n import layers
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    out, cache = layers.conv_forward_naive(x, w, b, {'stride': 1, 'pad': 1})
    dout = rng.normal(size=out.shape)
    for variant, text in fx.variants('conv_backward_naive').items():
        copy = fx.disguise(text, 5)
        assert copy.splitlines()[0] == text.splitlines()[0]   # same name and parameters
        assert set(re.findall(r'\w+', copy)) != set(re.findall(r'\w+', text)) and copy.count('#') >= 1
        results = []
        for code in (text, copy):
            space = {'np': np}
            exec(compile(code, variant, 'exec'), space)
            results.append(space['conv_backward_naive'](dout, cache))
        for a, c in zip(*results):
            np.testing.assert_allclose(a, c)


def test_calibration_separates_copies_from_independent_solutions():
    """benchmarks/calibrate_similarity.py's table: for every function the threshold lies above every
    pair of independent solutions and at or below every disguised copy."""
    spec = importlib.util.spec_from_file_location('calibrate_similarity',
                                                  REPO / 'benchmarks' / 'calibrate_similarity.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for row in module.calibration():
        if row['copies'] is None:   # an idiom (train.py): alike when independent, so never judged at this size
            assert row['fingerprints'][1] < row['judged from'], row
            continue
        assert row['independent'] < similarity.THRESHOLD <= row['copies'], row
        assert row['fingerprints'][0] >= row['judged from'], row


# ------------------------------------------------------------------------------------------- the command

HOSTILE = '# </pre><script>console.error("escaped?")</script><img src=x onerror="console.error(1)">'


def hostile(text: str) -> str:
    """A copy that also carries HTML in a comment and a string, to be shown escaped."""
    lines = fx.disguise(text, 11).splitlines()
    return '\n'.join([lines[0], '    ' + HOSTILE, "    _ = '</pre><script>alert(2)</script>'", *lines[1:]]) + '\n'


@pytest.fixture(scope='module')
def class_run(tmp_path_factory):
    """A class: alice; bob copied alice and disguised it; carol, dave independent; erin and frank
    handed in the starter untouched; mallory copied carol, with HTML in comments; zoe and yann Part 2
    (yann renamed zoe's models); a broken zip. A corpus folder laid out like a cloned repository holds
    dave's solution. Run through the command line."""
    root = tmp_path_factory.mktemp('similarity')
    klass, corpus, out = root / 'class', root / 'corpus', root / 'out'
    functions = [f for f in fx.functions() if fx.unit(f).part == 1]
    own = {name: {f: fx.variants(f)[variant] for f in functions}
           for name, variant in (('alice', 'a'), ('carol', 'b'), ('dave', 'c'))}
    for name, replacements in own.items():
        fx.write_submission(klass, name, replacements)
    fx.write_submission(klass, 'bob', {f: fx.disguise(t, 7) for f, t in own['alice'].items()})
    fx.write_submission(klass, 'mallory', {f: hostile(t) for f, t in own['carol'].items()})
    fx.write_submission(klass, 'erin')
    fx.write_submission(klass, 'frank')
    reference = REPO / 'reference' / '2_pytorch'
    zoe = {p: (reference / p).read_text() for p in similarity._unit_paths(2)}
    yann = {p: re.sub(r'#.*', '', re.sub(r'\b(conv\d?|fc\d?|pool|layers?|features|classifier|hidden)\b',
                                         lambda m: 'my_' + m[0], text)) for p, text in zoe.items()}
    fx.write_submission(klass, 'zoe', files=zoe, part=2)
    fx.write_submission(klass, 'yann', files=yann, part=2)
    with zipfile.ZipFile(klass / 'oscar_1_cs231n.zip', 'w') as z:
        z.writestr('../../escape/cs231n/layers.py', 'x = 1\n')
    clone = corpus / 'hw1-solutions' / 'assignment1' / '1_cs231n'
    for path, text in fx.submission_files(1, own['dave']).items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_text(text)
    assert main(['similarity', str(klass), '--corpus', str(corpus), '--out', str(out)]) == 0
    return klass, corpus, out


def test_copies_are_flagged_in_every_function_and_independent_solutions_are_not(class_run):
    _, _, out = class_run
    rows = flagged_rows(out)
    pairs = {}
    for row in rows:
        pairs.setdefault((row['a'], row['b']), set()).add(row['function'])
        assert float(row['similarity']) >= similarity.THRESHOLD
        assert min(int(row['fingerprints_a']), int(row['fingerprints_b'])) >= similarity.MIN_FINGERPRINTS
    part1 = {f for f in fx.functions() if fx.unit(f).part == 1}
    corpus = 'corpus:corpus/hw1-solutions/assignment1/1_cs231n'
    assert pairs[tuple(sorted(('alice', 'bob')))] == part1
    assert pairs[tuple(sorted(('carol', 'mallory')))] == part1
    assert pairs[('dave', corpus)] == part1
    assert pairs[tuple(sorted(('yann', 'zoe')))] >= {'CNN model', 'MyModel'}
    assert set(pairs) == {('alice', 'bob'), ('carol', 'mallory'), ('dave', corpus), ('yann', 'zoe')}


def test_untouched_starters_score_zero_and_broken_zips_are_reported(class_run):
    klass, corpus, _ = class_run
    sources, _ = similarity.class_sources(klass)
    result = similarity.compare(sources)
    for unit in similarity.UNITS:
        if unit.part == 1:
            assert len(result.prints['erin', unit.name].hashes) == 0, unit.name
    assert not [m for m in result.matches if {m.a, m.b} == {'erin', 'frank'}]
    oscar = next(s for s in sources if s.name == 'oscar')
    assert 'outside the folder' in oscar.problem and not oscar.files


def test_the_report_shows_each_flagged_pair_side_by_side_escaped_and_renders(class_run, tmp_path):
    _, _, out = class_run
    page = (out / 'similarity.html').read_text(encoding='utf-8')
    assert '<script' not in page and '<img' not in page   # the comment's HTML is text, escaped
    assert '&lt;script&gt;console.error(' in page and '&lt;img src=x onerror=' in page
    assert page.count('<section id="pair-') == 4 and page.count('<div class="side">') >= 3 * 7 + 2
    assert '<mark>' in page and 'oscar' in page   # a zip that could not be read is listed
    image, console = render(out / 'similarity.html', tmp_path)
    assert console == []
    assert np.count_nonzero(image < 200) > 2000, 'the screenshot is blank'
    assert np.count_nonzero((image > 150) & (image < 250)) > 100   # the highlighted (marked) stretches


def test_a_file_that_does_not_parse_still_yields_its_functions():
    text = fx.variants('max_pool_forward_naive')['b']
    broken = 'print "python 2"\n\n' + text + '\n\ndef other(:\n    pass\n'
    unit = next(u for u in similarity.UNITS if u.name == 'max_pool_forward_naive')
    assert similarity.unit_text({unit.path: broken}, unit).strip() == text.strip()
    deep = 'x = ' + '(' * 5000 + ')' * 5000 + '\n' + text
    assert similarity.unit_text({unit.path: deep}, unit).strip() == text.strip()
    # form feeds and Unicode line separators are not line breaks to Python: the span stays right
    shifted = 's = "a\u2028b\x0cc"\n\x0c\n' + text + '\ndef after():\n    return 1\n'
    assert similarity.unit_text({unit.path: shifted}, unit).strip() == text.strip()


def test_oversized_files_are_not_read(tmp_path):
    files = fx.starter_files(1)
    files['cs231n/layers.py'] += '#' * (similarity.MAX_SOURCE_BYTES + 10)
    source = similarity.read_source(fx.write_submission(tmp_path, 'big', files=files), None, 'big')
    assert 'cs231n/layers.py' not in source.files
    assert source.skipped == ['cs231n/layers.py is over 256 KiB: not compared.']
    assert 'cs231n/classifiers/softmax.py' in source.files


def test_the_2019_banners_delimit_the_student_regions():
    lines = ['def f(x):', '    given = 1', '    ' + '#' * 40, '    # TODO: do it', '    ' + '#' * 40,
             '    mine = x + 1', '    ' + '#' * 40, '    #   END OF YOUR CODE', '    ' + '#' * 40,
             '    return mine']
    assert similarity.marked_regions(lines) == [['    ' + '#' * 40, '    mine = x + 1', '    ' + '#' * 40]]


def test_every_todo_of_the_starter_is_inside_a_unit():
    for part in (1, 2):
        root = similarity.STARTER / similarity.PART_FOLDERS[part]
        for path in sorted(similarity._unit_paths(part)):
            text = (root / path).read_text()
            units = [u for u in similarity.UNITS if u.part == part and u.path == path]
            spans = [(0, len(text.splitlines()))] if any(not u.scopes for u in units) else [
                similarity._scope_lines(text, q) for u in units for q in u.scopes]
            for number, line in enumerate(text.splitlines()):
                if '# TODO:' in line:
                    assert any(s and s[0] <= number < s[1] for s in spans), f'{path}:{number + 1}: {line}'


def test_the_batch_index_links_the_report_when_present(tmp_path):
    """Written by batch before the report exists: no link; hw1grade similarity into that OUT adds it."""
    status = {'student': 'alice', 'label': 'part1', 'part': 1, 'status': 'graded', 'message': '', 'score': 13.0,
              'max_score': 13, 'questions': {'Q8.1': [3, 3]}, 'flags': [], 'leaderboard': [], 'display': '',
              'canvas_id': '', 'sis_id': '', 'email': ''}
    (tmp_path / 'alice' / 'part1').mkdir(parents=True)
    (tmp_path / 'alice' / 'part1' / 'status.json').write_text(json.dumps(status))
    write_class_outputs(tmp_path, load_rubric())
    assert 'similarity.html' not in (tmp_path / 'index.html').read_text()
    # hw1grade similarity into the batch's OUT rebuilds its index with the link
    fx.write_submission(tmp_path / 'class', 'alice')
    assert main(['similarity', str(tmp_path / 'class'), '--out', str(tmp_path)]) == 0
    assert '<a href="similarity.html">code similarity</a>' in (tmp_path / 'index.html').read_text()


GIVEN_2019 = ['    stride, pad = conv_param["stride"], conv_param["pad"]', '    N, C, H, W = x.shape',
              '    F, _, HH, WW = w.shape', '    H_out = 1 + (H + 2 * pad - HH) // stride',
              '    W_out = 1 + (W + 2 * pad - WW) // stride', '    out = np.zeros((N, F, H_out, W_out))']


def in_2019_frame(solution: str) -> str:
    """The solution's body between the 2019 starter's banners, after given code of the 2019 starter's kind
    (not in ours), as students handed it in."""
    banner = '    ' + '#' * 77
    head, *body = solution.rstrip('\n').splitlines()
    return '\n'.join([head, *GIVEN_2019, banner, '    # TODO: Implement the convolutional forward pass.    #',
                      banner, *body, banner, '    #' + 'END OF YOUR CODE'.center(75) + '#', banner,
                      '    cache = (x, w, b, conv_param)', '    return out, cache']) + '\n'


def test_given_code_outside_the_2019_banners_never_counts(tmp_path):
    """Two independent solutions inside the 2019 starter's banners, after the same given code: only the
    code between the banners is compared (the same texts without banners share the given code, unless
    the 2019 starter is given with --starter)."""
    unit = fx.unit('conv_forward_naive')
    one, other = (in_2019_frame(fx.variants('conv_forward_naive')[v]) for v in 'ab')
    unbannered = [re.sub(r'(?m)^.*(TODO|END OF YOUR CODE|#{20}).*\n', '', t) for t in (one, other)]

    def score(a: str, b: str, boilerplate=similarity.starter_boilerplate()[unit.name]) -> float:
        prints = [similarity.fingerprint(similarity.unit_text({unit.path: t}, unit), boilerplate) for t in (a, b)]
        return len(prints[0].hashes & prints[1].hashes) / min(len(p.hashes) for p in prints)

    assert 'conv_param["stride"]' not in similarity.unit_text({unit.path: one}, unit)
    assert score(one, other) < similarity.THRESHOLD
    assert score(*unbannered) > score(one, other) + 0.1
    assert score(one, in_2019_frame(fx.disguise(fx.variants('conv_forward_naive')['a'], 3))) >= similarity.THRESHOLD
    # --starter: the 2019 starter's own text (given code and banners around `pass`) never counts either
    starter_2019 = fx.submission_files(1, {unit.name: in_2019_frame(
        'def conv_forward_naive(x, w, b, conv_param):\n    pass\n')})
    for path, text in starter_2019.items():
        (tmp_path / '1_cs231n' / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / '1_cs231n' / path).write_text(text)
    with_2019 = similarity.starter_boilerplate(starters=(tmp_path,))[unit.name]
    assert score(*unbannered, boilerplate=with_2019) < score(*unbannered) - 0.2   # measured: 0.22 and 0.47


def test_the_class_layouts_of_batch_folders_and_canvas_names(tmp_path):
    """A student's unpacked folder (with a link, not followed) and a Canvas bulk-download zip name: read
    as `batch` reads them, and the copy between them flagged."""
    klass = tmp_path / 'class'
    original = {'conv_backward_naive': fx.variants('conv_backward_naive')['d']}
    folder = klass / 'alice' / '1_cs231n'
    for path, text in fx.submission_files(1, original).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    (folder / 'cs231n' / 'classifiers' / 'secret.py').symlink_to('/etc/passwd')
    fx.write_zip(klass / 'smithbob_12345_678901_1_cs231n.zip',
                 fx.submission_files(1, {name: fx.disguise(text, 2) for name, text in original.items()}))
    sources, _ = similarity.class_sources(klass)
    assert sorted(s.name for s in sources) == ['alice', 'smithbob'] and not any(s.problem for s in sources)
    flagged = similarity.compare(sources).flagged()
    assert [(m.a, m.b, m.unit.name) for m in flagged] == [('alice', 'smithbob', 'conv_backward_naive')]


def test_a_missing_folder_is_one_error_line(tmp_path, capsys):
    assert main(['similarity', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'out')]) == 2
    assert capsys.readouterr().err.strip() == f'hw1grade: error: {tmp_path / "nowhere"} is not a folder of submissions'
    (tmp_path / 'class').mkdir()
    assert main(['similarity', str(tmp_path / 'class'), '--corpus', str(tmp_path / 'nope')]) == 2
    assert '--corpus' in capsys.readouterr().err
