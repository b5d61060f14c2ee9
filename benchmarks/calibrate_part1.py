"""Calibrate the rubric's grader-controlled CIFAR-10 runs: grade the reference with each run seeded
0..N-1 and print the accuracies beside the thresholds in graders/rubric.toml.

    .venv/bin/python benchmarks/calibrate_part1.py [--seeds 5]

A threshold is sound when the reference's worst seed clears it with a margin (correct code always
passes) and a broken implementation cannot reach it (chance is 0.10).
"""
import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graders.engine.grade import grade  # noqa: E402
from graders.engine.rubric import load_rubric  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / 'reference' / '1_cs231n'
RUNS = ('softmax', 'two_layer_net', 'convnet_overfit', 'convnet')   # the [cifar10.*] tables


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=5)
    args = parser.parse_args()
    base = load_rubric()
    figures: dict[str, list[float]] = {run: [] for run in RUNS}
    seconds: dict[str, list[float]] = {run: [] for run in RUNS}
    for seed in range(args.seeds):
        rubric = copy.deepcopy(base)
        for run in rubric.settings['cifar10'].values():
            run['seed'] = seed
        graded = grade(REFERENCE, rubric=rubric, select='cifar10_accuracy or overfit')
        for s in graded.scored:
            run = {'Q8.1': 'softmax', 'Q8.2': 'two_layer_net'}.get(s.check.question) or \
                ('convnet_overfit' if 'overfit' in s.check.name else 'convnet')
            value = next(iter(s.check.measured.values()), float('nan'))
            figures[run].append(value)
            seconds[run].append(s.check.seconds)
        print(f'seed {seed}: ' + ', '.join(f'{k} {v[-1]:.3f}' for k, v in figures.items() if v), flush=True)
    print(f'\n{"run":<16} {"min":>6} {"mean":>6} {"max":>6} {"threshold":>9} {"seconds":>8}')
    for run, values in figures.items():
        threshold = base.settings['cifar10'][run]['threshold']
        print(f'{run:<16} {min(values):>6.3f} {sum(values) / len(values):>6.3f} {max(values):>6.3f} '
              f'{threshold:>9.2f} {sum(seconds[run]) / len(seconds[run]):>8.1f}')


if __name__ == '__main__':
    main()
