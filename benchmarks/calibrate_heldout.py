"""Calibrate the held-out transforms and the plausibility ceilings (graders/data/heldout.py, rubric [heldout]
and each run's `ceiling`): grade the reference's grader-controlled CIFAR-10 runs with each run seeded
0..N-1, once on the drawn held-out images as they are and once transformed (mirror, shift, noise), and
print the accuracies beside each run's threshold and ceiling.

    .venv/bin/python benchmarks/calibrate_heldout.py [--seeds 3] [--parts 1 2]

The seed changes both the training run and the draw; with the same seed both columns score the same
model on the same images, so their difference is the transforms' cost alone. The transforms are sound
when the reference's worst transformed seed still clears the threshold with a margin (they cost correct
students nothing), and a ceiling is sound when it sits well above the reference's best seed and far
below the 1.0 of looked-up labels.
"""
import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graders.engine.grade import grade  # noqa: E402
from graders.engine.rubric import load_rubric  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTS = {
    '1': (ROOT / 'reference' / '1_cs231n', 'cifar10', 'cifar10_accuracy',
          {'Q8.1': 'softmax', 'Q8.2': 'two_layer_net', 'Q8.4': 'convnet'}),
    '2': (ROOT / 'reference' / '2_pytorch', 'part2_training', 'test_training',
          {'Q8.5': 'softmax', 'Q8.6': 'twolayernn', 'Q8.7': 'convnet'}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--parts', nargs='+', choices=sorted(PARTS), default=sorted(PARTS))
    args = parser.parse_args()
    base = load_rubric()
    figures: dict[tuple[str, str, bool], list[float]] = {}
    for part in args.parts:
        tree, table, select, runs = PARTS[part]
        for seed in range(args.seeds):
            for transform in (False, True):
                rubric = copy.deepcopy(base)
                for run in rubric.settings[table].values():
                    run['seed'] = seed
                rubric.settings['heldout']['transform'] = transform
                graded = grade(tree, part=int(part), rubric=rubric, select=select, notebooks=False)
                for s in graded.scored:
                    key = (table, runs[s.check.question], transform)
                    figures.setdefault(key, []).append(s.check.measured.get('accuracy', float('nan')))
                print(f'part {part} seed {seed} {"transformed" if transform else "as drawn"}: ' + ', '.join(
                    f'{run} {values[-1]:.3f}' for (t, run, tr), values in figures.items()
                    if t == table and tr == transform), flush=True)
    print(f'\n{"run":<30} {"as drawn min-max":>17} {"transformed min-max":>20} {"mean cost":>9} '
          f'{"threshold":>9} {"ceiling":>7}')
    for (table, run, transform), values in figures.items():
        if transform:
            continue
        moved = figures.get((table, run, True), [])
        settings = base.settings[table][run]
        cost = (sum(values) - sum(moved)) / len(moved) if len(moved) == len(values) else float('nan')
        print(f'{table + "." + run:<30} {min(values):>8.3f}-{max(values):.3f} {min(moved):>11.3f}-{max(moved):.3f} '
              f'{cost:>+9.3f} {settings["threshold"]:>9.2f} {settings.get("ceiling", float("nan")):>7.2f}')


if __name__ == '__main__':
    main()
