"""How long the students' self-check (`python check.py` in the starter zip) takes on complete work.

    .venv/bin/python benchmarks/bench_selfcheck.py [--runs 3]

Builds the self-check as `hw1grade starter build` does (graders/course/selfcheck.py), copies the
reference's Part 1 into a scratch folder as a student's finished work (its Cython extension built,
CIFAR-10 where get_datasets.sh puts it), and times `python check.py` there, start to end (a fresh
interpreter: imports, every visible check, the convnet's overfitting run); then once on the starter's
stubs without a built extension (the self-check compiles it, as a student's first run does). Part 2:
the bundled example submission (examples/2_pytorch.zip, the reference trained, its logs, plots and
2_pytorch.pdf) unpacked beside it, timed alone and with Part 1 in one `python check.py` (both parts,
what a student runs). Goal: both parts together under 60 s on 2 cores (issue 15).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import mutants  # noqa: E402
from graders.course import selfcheck  # noqa: E402
from graders.data import cifar10  # noqa: E402

GOAL_S = 60.0


EXAMPLE_PART2 = ROOT / 'examples' / '2_pytorch.zip'


def timed_check(home: Path, folder: Path | None, part: int | None = 1) -> tuple[float, dict]:
    """`python check.py` (--part/--folder when given; both parts beside check.py otherwise): seconds and
    {'passed', 'checks'} over the parts it ran."""
    out = home / 'verdicts.json'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    argv = [sys.executable, str(home / 'check.py'), '--json', str(out)]
    if part is not None:
        argv += ['--part', str(part), '--folder', str(folder)]
    started = time.monotonic()
    subprocess.run(argv, cwd=home, env=env, capture_output=True, check=False)
    seconds = time.monotonic() - started
    checks = [c for part_checks in json.loads(out.read_text()).values()
              for q in part_checks['checks'].values() for c in q.values()]
    return seconds, {'passed': sum(c['passed'] for c in checks), 'checks': len(checks)}


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
        part2 = home / '2_pytorch'
        with zipfile.ZipFile(EXAMPLE_PART2) as zf:
            zf.extractall(part2)
        part2_runs = [timed_check(home, part2, 2) for _ in range(args.runs)]
        (home / '1_cs231n').symlink_to(done, target_is_directory=True)
        both_runs = [timed_check(home, None, None) for _ in range(args.runs)]
    seconds = [s for s, _ in runs]
    counts = runs[-1][1]
    part2_s, part2_counts = [s for s, _ in part2_runs], part2_runs[-1][1]
    both_s, both_counts = [s for s, _ in both_runs], both_runs[-1][1]
    load = os.getloadavg()[0]
    print(f'self-check benchmark (load {load:.1f} on {os.cpu_count()} CPUs; build of the self-check '
          f'{build_s:.1f} s, not counted)')
    print(f'{"tree":<34} {"checks passed":>14} {"seconds":>22}')
    print(f'{"Part 1, the reference (complete)":<34} {counts["passed"]:>6} of {counts["checks"]:<5} '
          f'{f"{min(seconds):.1f} best, {statistics.median(seconds):.1f} median":>22}')
    print(f'{"Part 1, the stubs (builds Cython)":<34} {stub_counts["passed"]:>6} of {stub_counts["checks"]:<5} '
          f'{stub_s:>22.1f}')
    print(f'{"Part 2, the example (complete)":<34} {part2_counts["passed"]:>6} of {part2_counts["checks"]:<5} '
          f'{f"{min(part2_s):.1f} best, {statistics.median(part2_s):.1f} median":>22}')
    print(f'{"both parts, one python check.py":<34} {both_counts["passed"]:>6} of {both_counts["checks"]:<5} '
          f'{f"{min(both_s):.1f} best, {statistics.median(both_s):.1f} median":>22}')
    total = statistics.median(both_s)
    verdict = 'within' if total < GOAL_S else 'OVER'
    print(f'complete work, both parts: {total:.1f} s (median of {len(both_s)}), {verdict} the goal of {GOAL_S:g} s')
    return 0 if total < GOAL_S else 1


if __name__ == '__main__':
    sys.exit(main())
