"""
Benchmark of the sandboxed notebook runs of grading (a script, not a test).

    python benchmarks/bench_notebooks_sandbox.py [SUBMISSION] [--budget S] [--parallel N]
                                                 [--names softmax.ipynb ...]

Opens SUBMISSION (default examples/1_cs231n.zip: the reference notebooks, executed, with their
outputs) with intake as grading does, builds its Cython extension in the sandbox (timed apart: the
checks do it before the notebooks run), then runs `run_submission_notebooks` and prints, for each
notebook, its status, seconds, claimed and measured figures, and the total. With a budget large
enough for all of them (the default, 1800 s) the figures are the notebooks' own running times in the
sandbox; with the grading budget they show what fits.

On a machine shared with other work the timings are noisy: the load average is printed with them.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders.data.withheld import withheld_cifar10  # noqa: E402
from graders.engine import intake  # noqa: E402
from graders.engine.sandbox import Sandbox  # noqa: E402
from graders.notebooks.grading import NOTEBOOK_LIMITS, run_submission_notebooks, snapshot_notebooks  # noqa: E402
from graders.notebooks.runner import NOTEBOOKS  # noqa: E402
from graders.part1.build import build_extension  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('submission', nargs='?', default=str(ROOT / 'examples' / '1_cs231n.zip'))
    parser.add_argument('--budget', type=float, default=1800.0, help='seconds for all the notebooks')
    parser.add_argument('--parallel', type=int, default=2, help='notebooks run at once')
    parser.add_argument('--names', nargs='+', default=list(NOTEBOOKS))
    args = parser.parse_args()
    print(f'cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} before the run')
    withheld_cifar10()                      # built once per cache; not part of a grading run
    with tempfile.TemporaryDirectory(prefix='bench-notebooks-') as scratch:
        submission = intake.open_submission(args.submission, part=1, scratch=scratch)
        snapshot = snapshot_notebooks(submission.root, args.names)
        tic = time.monotonic()
        build = build_extension(submission.root, Sandbox(submission.root, NOTEBOOK_LIMITS))
        print(f'Cython build in the sandbox: {time.monotonic() - tic:.1f} s ({build.message.splitlines()[0]})')
        tic = time.monotonic()
        reports = run_submission_notebooks(submission.root, budget_s=args.budget, names=args.names,
                                           parallel=args.parallel, snapshot=snapshot)
        total = time.monotonic() - tic
    for report in reports:
        print(f"\n{report['name']}: {report['status']} in {report['seconds']:.1f} s")
        print(f"  claimed:  {report['claimed']}")
        print(f"  measured: {report['measured']}")
        for error in report['errors']:
            print('  ' + error.replace('\n', '\n    '))
    print(f'\nall notebooks: {total:.1f} s wall clock (budget {args.budget:g} s, {args.parallel} at once); '
          f'load average {os.getloadavg()[0]:.2f} after the run')


if __name__ == '__main__':
    main()
