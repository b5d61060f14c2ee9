"""
Benchmark of grading, end to end (a script, not a test).

    python benchmarks/bench_grading.py [--submission ZIP] [--part2 ZIP] [--folder DIR] [--only grade|grade2|check]
                                       [--corpus2019]

Times, as wall clock of the command line a TA or a student types:
- `hw1grade grade ZIP` (default examples/1_cs231n.zip): intake, the Cython build, every check (the
  hidden CIFAR-10 trainings included), the notebooks in the sandbox, results.json and the report.
  Goal: under 5 minutes.
- `hw1grade grade ZIP` for Part 2 (default examples/2_pytorch.zip): the models built, checked and
  trained in the sandbox (the three training runs of the grader's recipe), deliverables, the
  challenge. Goal: under 3 minutes on 2 cores (issue 14); the CPU seconds of each training run are
  printed too (they do not depend on the load).
- `--corpus2019`: the Part 1 grade of fixtures/corpus2019.py's correct 2019-style submission (the
  official 2019 starter's notebooks, data_utils.py importing six, the kitten cell...), notebooks
  included, instead of the example zip. Goal: under 5 minutes too.
- `hw1grade check DIR` (default reference/1_cs231n): the students' self-check, visible checks only.
  Goal: under 60 s.

Each command's last lines (its score) are printed with its time. On a machine shared with other
work the timings are noisy: the load average is printed before and after each command.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HW1GRADE = Path(sys.executable).with_name('hw1grade')
GOALS = {'grade': 300.0, 'grade2': 180.0, 'check': 60.0}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f'load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cpus'


def timed(name: str, argv: list[str]) -> float:
    """Run one hw1grade command from the repository root; print its time against the goal."""
    print(f'\n$ hw1grade {" ".join(argv)}\n  {load()} before')
    tic = time.monotonic()
    proc = subprocess.run([str(HW1GRADE), *argv], cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - tic
    summary = [line for line in proc.stdout.splitlines() if 'points (' in line]
    print(f'  {summary[0].strip() if summary else "(no summary line)"}; exit code {proc.returncode}')
    for line in proc.stdout.splitlines():
        if '.ipynb' in line:   # the notebooks' statuses
            print('  ' + line.strip()[:200])
    if proc.returncode not in (0, 1):
        print(proc.stderr.strip()[-2000:])
    verdict = 'within' if seconds < GOALS[name] else 'OVER'
    print(f'  {name}: {seconds:.1f} s wall clock, {verdict} the goal of {GOALS[name]:.0f} s; {load()} after')
    return seconds


def training_cpu(results: Path) -> None:
    """Print the grader's training runs of a Part 2 results.json (accuracy, recipe, CPU seconds)."""
    import json
    try:
        tests = json.loads(results.read_text())['tests']
    except (OSError, ValueError, KeyError):
        return
    for test in tests:
        if 'trained by the grader' in test.get('name', ''):
            first = test.get('output', '').splitlines()[0][:160] if test.get('output') else ''
            print(f'  {test["name"][:40]}: {first}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--submission', default=str(ROOT / 'examples' / '1_cs231n.zip'))
    parser.add_argument('--part2', default=str(ROOT / 'examples' / '2_pytorch.zip'))
    parser.add_argument('--folder', default=str(ROOT / 'reference' / '1_cs231n'))
    parser.add_argument('--only', choices=sorted(GOALS), help='time one command only')
    parser.add_argument('--corpus2019', action='store_true',
                        help="grade fixtures/corpus2019.py's correct submission as the Part 1 submission")
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory(prefix='bench-grading-') as out:
        if args.corpus2019:
            sys.path.insert(0, str(ROOT))
            from fixtures import corpus2019
            args.submission = str(corpus2019.build('correct', Path(out) / 'corpus2019' / '1_cs231n'))
        if args.only in (None, 'grade'):
            figures['grade'] = timed('grade', ['grade', args.submission, '--out', out])
        if args.only in (None, 'grade2'):
            figures['grade2'] = timed('grade2', ['grade', args.part2, '--out', out + '/part2'])
            training_cpu(Path(out) / 'part2' / 'results.json')
        if args.only in (None, 'check'):
            figures['check'] = timed('check', ['check', args.folder])
    print('\n' + ', '.join(f'{name} {seconds:.1f} s (goal {GOALS[name]:.0f} s)' for name, seconds in figures.items()))


if __name__ == '__main__':
    main()
