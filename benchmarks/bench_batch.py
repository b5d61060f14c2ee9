"""
Benchmark of `hw1grade batch` (a script, not a test).

    python benchmarks/bench_batch.py [--copies N] [--workers 1 2] [--full]

Makes a class of N students, each with copies of the bundled example submissions (examples/1_cs231n.zip and
2_pytorch.zip, so 2N submissions), and prints
(a) one submission graded alone by grade() (the same options, a warm build cache): seconds per part;
(b) for each worker count: the batch's wall time on a fresh LocalCluster (cluster start-up included),
    submissions per minute, and the per-submission overhead of the batch over (a):
    (wall * workers / submissions) - mean single-grade time.
By default the grading is the fast kind the tests use (visible checks, no notebooks); --full grades as
TAs do (hidden CIFAR-10 runs and notebooks: minutes per submission).
"""
import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.classroom.batch import run_batch  # noqa: E402
from graders.engine.grade import grade  # noqa: E402
from graders.engine.options import GradeOptions  # noqa: E402

EXAMPLES = {'part1': ROOT / 'examples' / '1_cs231n.zip', 'part2': ROOT / 'examples' / '2_pytorch.zip'}
FAST = GradeOptions(notebooks=False, visible_only=True)


def make_class(folder: Path, copies: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(copies):
        for example in EXAMPLES.values():
            shutil.copy(example, folder / f'student{i:03d}_{example.name}')
    return folder


def single_grades(options: GradeOptions, cache: Path) -> dict:
    """Seconds of one grade() per part, after a warm-up grade that fills the build cache."""
    seconds = {}
    for label, example in EXAMPLES.items():
        grade(example, options, build_cache=cache)
        started = time.monotonic()
        grade(example, options, build_cache=cache)
        seconds[label] = time.monotonic() - started
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--copies', type=int, default=4, help='students (each submits both parts)')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--full', action='store_true', help='hidden checks and notebooks too')
    args = parser.parse_args()
    options = GradeOptions() if args.full else FAST
    with tempfile.TemporaryDirectory(prefix='bench-batch-') as tmp:
        tmp = Path(tmp)
        cache = tmp / 'cache'
        single = single_grades(options, cache)
        mean_single = sum(single.values()) / len(single)
        print('(a) one grade(): ' + ', '.join(f'{k} {v:.1f} s' for k, v in single.items()))
        folder = make_class(tmp / 'class', args.copies)
        submissions = 2 * args.copies
        print(f'(b) a class of {submissions} submissions:')
        for workers in args.workers:
            out = tmp / f'out-{workers}'
            started = time.monotonic()
            counts = run_batch(folder, out, workers=workers, options=replace(options, build_cache=cache),
                               log=lambda line: None)
            wall = time.monotonic() - started
            overhead = wall * workers / submissions - mean_single
            print(f'    {workers} worker(s): {wall:.1f} s, {submissions / wall * 60:.1f} submissions/min, '
                  f'overhead {overhead:+.1f} s per submission ({counts})')


if __name__ == '__main__':
    main()
