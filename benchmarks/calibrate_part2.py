"""Calibrate the rubric's Part 2 training runs ([part2_training.*]): grade the reference's models, and
the same models applying softmax inside forward (accepted by the homework), with each run seeded
0..N-1; print the accuracies and seconds beside the thresholds in graders/rubric.toml.

    .venv/bin/python benchmarks/calibrate_part2.py [--seeds 3]

A threshold is sound when the worst seed of both variants clears it with a margin and a model that
learns nothing cannot reach it (chance is 0.10).
"""
import argparse
import copy
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures.part2_mutants import replace_once  # noqa: E402
from graders.grade import grade  # noqa: E402
from graders.rubric import load_rubric  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / 'reference' / '2_pytorch'
QUESTIONS = {'Q8.5': 'softmax', 'Q8.6': 'twolayernn', 'Q8.7': 'convnet'}
SOFTMAX_IN_FORWARD = (
    replace_once('models/softmax.py', 'return self.linear(images.flatten(1))',
                 'return self.linear(images.flatten(1)).softmax(dim=1)'),
    replace_once('models/twolayernn.py', 'return self.fc2(self.relu(self.fc1(images.flatten(1))))',
                 'return self.fc2(self.relu(self.fc1(images.flatten(1)))).softmax(dim=1)'),
    replace_once('models/convnet.py', 'return self.classifier(features.mean(dim=(2, 3)))',
                 'return self.classifier(features.mean(dim=(2, 3))).softmax(dim=1)'),
)


def variants(scratch: Path) -> dict[str, Path]:
    """The reference's sources, and a copy whose models apply softmax in forward."""
    probabilities = scratch / '2_pytorch'
    shutil.copytree(REFERENCE, probabilities, symlinks=True)
    for change in SOFTMAX_IN_FORWARD:
        change(probabilities)
    return {'reference': REFERENCE, 'softmax in forward': probabilities}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    args = parser.parse_args()
    base = load_rubric()
    figures: dict[tuple[str, str], list[float]] = {}
    seconds: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        trees = variants(Path(scratch))
        for seed in range(args.seeds):
            rubric = copy.deepcopy(base)
            for run in rubric.settings['part2_training'].values():
                run['seed'] = seed
            for variant, tree in trees.items():
                graded = grade(tree, part=2, rubric=rubric, select='test_training')
                for s in graded.scored:
                    key = (variant, QUESTIONS[s.check.question])
                    figures.setdefault(key, []).append(s.check.measured.get('accuracy', float('nan')))
                    seconds.setdefault(key, []).append(s.check.seconds)
                print(f'seed {seed} {variant}: ' + ', '.join(
                    f'{m} {v[-1]:.3f}' for (name, m), v in figures.items() if name == variant), flush=True)
    print(f'\n{"variant":<20} {"model":<11} {"min":>6} {"mean":>6} {"max":>6} {"threshold":>9} {"seconds":>8}')
    for (variant, model), values in figures.items():
        threshold = base.settings['part2_training'][model]['threshold']
        print(f'{variant:<20} {model:<11} {min(values):>6.3f} {sum(values) / len(values):>6.3f} '
              f'{max(values):>6.3f} {threshold:>9.2f} {max(seconds[(variant, model)]):>8.1f}')


if __name__ == '__main__':
    main()
