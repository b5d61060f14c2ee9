"""The hidden training checks of Q8.5-Q8.7: train a submitted model in the sandbox with the grader's
recipe and score its predictions on held-out CIFAR-10 images here.

Apart from graders/part2/models.py because it uses the course secret's held-out draws
(graders/data/heldout.py): the students' self-check copies models.py into the starter zip
(graders/course/selfcheck.py) and must not hold this.
"""

from __future__ import annotations

import numpy as np

from graders.data.heldout import implausible
from graders.engine.bridge import CallTimeout, SubmissionRaised
from graders.engine.checks import as_array, describe
from graders.engine.outcome import Note
from graders.engine.plugin import fail
from graders.part2.models import PROBE, ModelSpec, build, explain


def train_and_score(worker, spec: ModelSpec, flags: dict, run: dict, data, record, measured: dict,
                    notes: list[str]) -> float:
    """Train the model with the grader's recipe (rubric [part2_training.<model>]) inside the sandbox,
    score its predictions on held-out images here; fail below the threshold, or when a layer that runs
    never learns.

    The recipe (graders/inside/part2_probe.py `train_and_predict`) races common optimizer settings
    (rubric `candidates`) on a validation split of the training images and trains the winner on, so
    that a correct model of any architecture learns whatever settings it needs; the threshold is set
    relative to chance (benchmarks/calibrate_part2.py: every correct model of the zoo clears it on every
    seed, a model that learns nothing cannot reach it).

    data: (train images, train labels, held-out images, held-out labels), uint8 images (N, 32, 32, 3).
    A run over the time budget is flagged for manual review (a note), never a silent zero."""
    train_x, train_y, heldout_x, heldout_y = data
    n, m = run['train_images'], run['heldout_images']
    model = build(worker, spec, flags, seed=run.get('seed', 0))
    recipe = {key: run[key] for key in RECIPE_KEYS}
    try:
        outcome = worker.call(
            f'{PROBE}:train_and_predict', model, train_x[:n], train_y[:n].astype(np.int64), heldout_x[:m],
            recipe, run.get('seed', 0), timeout=run['timeout'])
    except CallTimeout:
        notes.append(Note.review(f'manual review: {spec.cls} did not finish the grader\'s training run ({n} '
                                 f'images, {run["steps"]} steps) within {run["timeout"]} s; its deliverables are '
                                 'graded as usual'))
        fail(f'{spec.cls} did not finish training on {n} CIFAR-10 images within {run["timeout"]} s: flagged '
             'for manual review by the TAs (the log and plots keep their points)')
    except SubmissionRaised as err:
        fail(f'training {spec.signature(flags)} with the grader\'s recipe failed: {explain(err)}')
    trained = _training_outcome(outcome, m, len(recipe['candidates']))
    labels = trained['predictions']
    accuracy = float(np.mean(labels == heldout_y[:m]))
    measured[spec.name] = accuracy
    kind, lr, _ = recipe['candidates'][trained['chosen']]
    setting = f'{"Adam" if kind == "adam" else "SGD with momentum"} lr {lr:g}'
    record('accuracy', round(accuracy, 4))
    record('recipe', f'{setting}, {trained["steps"]} steps of {run["batch_size"]}')
    if trained['cpu_seconds'] is not None:
        record('cpu seconds', trained['cpu_seconds'])
    implausible(accuracy, run, f'{spec.cls} trained by the grader reached {accuracy:.3f} on {m} held-out '
                'CIFAR-10 images, which', notes)
    if trained['steps'] < run['steps']:
        notes.append(f'{spec.cls} is slow: the grader\'s training run stopped after {trained["steps"]} of '
                     f'{run["steps"]} steps ({run["cpu_seconds"]} CPU seconds)')
    if trained['unused']:
        notes.append(f'{spec.cls} defines parameters its forward never uses: {_names(trained["unused"])}')
    if trained['frozen']:
        fail(f'{spec.cls}: {_names(trained["frozen"])} never updated: these layers run in forward, but no '
             'gradient reaches them (requires_grad=False, .detach(), torch.no_grad(), .data, or an output '
             'that never reaches the scores), so they never learn')
    if accuracy < run['threshold']:
        fail(f'{spec.cls} trained by the grader ({n - run["validation"]} images, {trained["steps"]} steps, '
             f'{setting}, the best of {len(recipe["candidates"])} common settings) reached {accuracy:.3f} on {m} '
             f'held-out CIFAR-10 images, below {run["threshold"]:.2f} (chance is 0.10; every correct model '
             'the grader was calibrated on clears it): does forward use the images, and do the scores '
             'depend on them?')
    return accuracy


RECIPE_KEYS = ('validation', 'steps', 'trial_steps', 'batch_size', 'candidates', 'cpu_seconds', 'weight_decay')


def _names(names: list[str], shown: int = 6) -> str:
    more = f' and {len(names) - shown} more' if len(names) > shown else ''
    return ', '.join(names[:shown]) + more


def _training_outcome(value, m: int, candidates: int) -> dict:
    """Check the probe's training outcome field by field (it crossed from the sandbox)."""
    def bad():
        fail(f'the grader could not read the outcome of its training run (got {describe(value)})')
    if type(value) is not dict:
        bad()
    labels = as_array('predictions on the held-out images', value.get('predictions'), (m,), kind='iu')
    chosen, steps = value.get('chosen'), value.get('steps')
    if type(chosen) is not int or not 0 <= chosen < candidates or type(steps) is not int or steps < 0:
        bad()
    lists = {k: value.get(k) for k in ('frozen', 'unused')}
    if not all(type(v) is list and all(type(n) is str for n in v) for v in lists.values()):
        bad()
    cpu = value.get('cpu_seconds')
    return {'predictions': labels, 'chosen': chosen, 'steps': steps,
            'cpu_seconds': float(cpu) if type(cpu) in (int, float) and cpu >= 0 else None,
            **{k: [n[:80] for n in v[:50]] for k, v in lists.items()}}
