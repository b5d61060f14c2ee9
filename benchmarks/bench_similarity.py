"""Time `hw1grade similarity` on a generated class (default 300 students, both parts, zips).

Each student's Part 1 holds, for each of the seven calibrated Part 1 units, one of the fixture's independent
solutions picked at random and disguised with the student's own seed (renames, swapped statements,
comments, blank lines); the rest of the part is the starter. Part 2 holds our reference's models and
train.py with the student's own renamed attributes and no comments. So about a quarter of the pairs
share each Part 1 function's variant and every Part 2 pair is alike: far more shared fingerprints and
flagged pairs than a real class, the worst case for the comparison and the outputs.

    .venv/bin/python benchmarks/bench_similarity.py [--students 300] [--keep DIR]
"""
from __future__ import annotations

import argparse
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import similarity as fx  # noqa: E402
from graders import paths  # noqa: E402
from graders.classroom import similarity  # noqa: E402

ATTRIBUTES = re.compile(r'\bself\.(\w+)')


def part2_files(rng: random.Random) -> dict[str, str]:
    reference = paths.REFERENCE / '2_pytorch'
    files = {}
    for path in sorted(similarity._unit_paths(2)):
        text = re.sub(r'#[^\n]*', '', (reference / path).read_text(encoding='utf-8'))
        suffix = rng.choice(('_a', '_layer', 'X', '_mod'))
        files[path] = ATTRIBUTES.sub(lambda m: f'self.{m[1]}{suffix}', text)
    return files


def generate(folder: Path, students: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    variants = {f: list(fx.variants(f).values()) for f in fx.functions() if fx.unit(f).part == 1}
    for number in range(students):
        name = f'student{number:03d}'
        fx.write_submission(folder, name, {f: fx.disguise(rng.choice(v), rng.randrange(1 << 30))
                                           for f, v in variants.items()})
        fx.write_submission(folder, name, files=part2_files(rng), part=2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--students', type=int, default=300)
    parser.add_argument('--keep', metavar='DIR', help='generate the class and the outputs here and keep them')
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix='bench-similarity-'))
    try:
        started = time.monotonic()
        generate(root / 'class', args.students)
        generated = time.monotonic() - started
        started, cpu = time.monotonic(), time.process_time()
        result = similarity.similarity(root / 'class', [], root / 'out', log=lambda message: None)
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu
        pairs = similarity.flagged_pairs(result)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f'{args.students} students x 2 parts ({len(result.sources)} submissions), generated in '
              f'{generated:.1f} s')
        print(f'hw1grade similarity: {seconds:.1f} s wall ({seconds / 60:.2f} min; {cpu:.1f} s of CPU: the rest '
              f'is waiting for a loaded machine), one process; '
              f'{len(result.matches)} pair-function comparisons with shared fingerprints, '
              f'{len(result.flagged())} flagged in {len(pairs)} pairs; peak memory {peak:.0f} MiB')
        for name in ('similarity.csv', 'similarity.html'):
            print(f'  {name}: {(root / "out" / name).stat().st_size / 1e6:.1f} MB')
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
