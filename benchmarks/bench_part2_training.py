"""Train each reference Part 2 model with its own run_<model>.sh on real CIFAR-10; print test
accuracy and minutes of training.

    .venv/bin/python benchmarks/bench_part2_training.py [--models softmax twolayernn convnet mymodel]

Goals (issue #3, 2 CPU cores): softmax >= 0.35, two-layer >= 0.48, CNN >= 0.60 each within 3 minutes;
MyModel >= 0.85 within 20 minutes. The figures are measured, never asserted: compare them with the goals.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from graders.course.part2_runs import MODELS, prepare_workdir, train  # noqa: E402
from graders.data import cifar10  # noqa: E402

GOALS = {'softmax': (0.35, 3), 'twolayernn': (0.48, 3), 'convnet': (0.60, 3), 'mymodel': (0.85, 20)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', choices=MODELS, default=list(MODELS))
    args = parser.parse_args()

    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'cuda: {torch.cuda.get_device_name() if torch.cuda.is_available() else "no"}')
    with tempfile.TemporaryDirectory() as tmp:
        workdir = prepare_workdir(Path(tmp) / '2_pytorch', cifar10.ensure_cifar10())
        print(f'{"model":<11} {"test acc":>8} {"goal":>6} {"minutes":>8} {"budget":>7}')
        for model in args.models:
            run = train(workdir, model)
            goal, budget = GOALS[model]
            accuracy = f'{run.accuracy:.4f}' if run.accuracy is not None else 'failed'
            print(f'{model:<11} {accuracy:>8} {goal:>6.2f} {run.seconds / 60:>8.2f} {budget:>7}', flush=True)


if __name__ == '__main__':
    main()
