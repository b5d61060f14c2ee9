"""How long the students' self-check (`python check.py` in the starter zip) takes on a complete Part 1.

    .venv/bin/python benchmarks/bench_selfcheck.py [--runs 3]

Builds the self-check as `hw1grade starter build` does (graders/course/selfcheck.py), copies the
reference's Part 1 into a scratch folder as a student's finished work (its Cython extension built,
CIFAR-10 where get_datasets.sh puts it), and times `python check.py` there, start to end (a fresh
interpreter: imports, every visible check, the convnet's overfitting run); then once on the starter's
stubs without a built extension (the self-check compiles it, as a student's first run does). Goal: both
parts together under 60 s on 2 cores (issue 15). Part 2 has no self-check yet: its line says so.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import mutants  # noqa: E402
from graders.course import selfcheck  # noqa: E402
from graders.data import cifar10  # noqa: E402

GOAL_S = 60.0


def timed_check(home: Path, folder: Path) -> tuple[float, dict]:
    out = folder.parent / 'verdicts.json'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    started = time.monotonic()
    subprocess.run([sys.executable, str(home / 'check.py'), '--part', '1', '--folder', str(folder),
                    '--json', str(out)], cwd=home, env=env, capture_output=True, check=False)
    seconds = time.monotonic() - started
    checks = json.loads(out.read_text())['1']['checks']
    return seconds, {'passed': sum(c['passed'] for q in checks.values() for c in q.values()),
                     'checks': sum(len(q) for q in checks.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    data = cifar10.ensure_cifar10()
    with tempfile.TemporaryDirectory(prefix='bench-selfcheck-') as tmp:
        home = Path(tmp)
        started = time.monotonic()
        selfcheck.write(selfcheck.build_files(), home)
        build_s = time.monotonic() - started
        done = mutants.write_reference(home / 'done' / '1_cs231n')
        for built in (mutants.REFERENCE / 'cs231n').glob('im2col_cython*.so'):
            (done / 'cs231n' / built.name).write_bytes(built.read_bytes())
        (done / 'cs231n' / 'datasets' / cifar10.FOLDER).symlink_to(data, target_is_directory=True)
        runs = [timed_check(home, done) for _ in range(args.runs)]
        stubs = mutants.write_reference(home / 'stubs' / '1_cs231n', reference=ROOT / 'student' / '1_cs231n')
        stub_s, stub_counts = timed_check(home, stubs)
    seconds = [s for s, _ in runs]
    counts = runs[-1][1]
    load = os.getloadavg()[0]
    print(f'self-check benchmark (load {load:.1f} on {os.cpu_count()} CPUs; build of the self-check '
          f'{build_s:.1f} s, not counted)')
    print(f'{"tree":<34} {"checks passed":>14} {"seconds":>22}')
    print(f'{"Part 1, the reference (complete)":<34} {counts["passed"]:>6} of {counts["checks"]:<5} '
          f'{f"{min(seconds):.1f} best, {statistics.median(seconds):.1f} median":>22}')
    print(f'{"Part 1, the stubs (builds Cython)":<34} {stub_counts["passed"]:>6} of {stub_counts["checks"]:<5} '
          f'{stub_s:>22.1f}')
    print(f'{"Part 2":<34} {"no self-check yet":>14}')
    total = statistics.median(seconds)
    verdict = 'within' if total < GOAL_S else 'OVER'
    print(f'complete work, both parts: {total:.1f} s (median of {len(seconds)}), {verdict} the goal of {GOAL_S:g} s')
    return 0 if total < GOAL_S else 1


if __name__ == '__main__':
    sys.exit(main())
