"""Calibrate `hw1grade similarity`: per function, the highest similarity between independent correct
solutions against the lowest between a solution and a disguised copy of it; the threshold chosen from them.

Independent solutions: fixtures/similarity/solutions/ (4 per unit, written for this: loops or
vectorised, other decompositions, other architectures; six Part 1 functions, the trainer's updates,
Part 2's CNN, train.py's optimizer and update step). train.py's regions are PyTorch's idiom: independent
students write them alike, so no threshold can tell copies there; the table shows it, and the unit is
judged only from a much larger amount of own code (Unit.minimum). Copies: fixtures.similarity.disguise()
with several seeds (renamed variables, swapped independent statements, comments moved and rewritten, blank
lines). Each text is put in the starter's file (student/) and compared through the command's own path (unit
regions, starter fingerprints removed, winnowing). Also printed: how many fingerprints of their own our
reference's units have, which is why units below MIN_FINGERPRINTS (one-line functions every correct student
writes alike)
are not judged.

    .venv/bin/python benchmarks/calibrate_similarity.py [--noise K --guarantee T] [--copydetect-filter]

--copydetect-filter normalizes with copydetect's own `filter_code` (pygments; every name, attribute and
library call becomes V) instead of ours, to show why ours is used (the module docstring says more).
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import similarity as fx  # noqa: E402
from graders import paths  # noqa: E402
from graders.classroom import similarity  # noqa: E402

COPY_SEEDS = (1, 2, 3)


def calibration(noise: int = similarity.NOISE_CHARS, guarantee: int = similarity.GUARANTEE_CHARS) -> list[dict]:
    """One row per function: fingerprints of the solutions, max independent, min copy."""
    sources = []
    for function in fx.functions():
        part = fx.unit(function).part
        for variant, text in fx.variants(function).items():
            sources.append(similarity.Source(f'{function}/{variant}', part, Path(variant),
                                             fx.submission_files(part, {function: text})))
            for seed in (COPY_SEEDS if not fx.unit(function).minimum else ()):   # idioms: see below
                sources.append(similarity.Source(f'{function}/{variant}~copy{seed}', part, Path(variant),
                                                 fx.submission_files(part, {function: fx.disguise(text, seed)})))
    result = similarity.compare(sources, noise=noise, guarantee=guarantee)
    sources_named = {s.name for s in sources}
    rows = []
    for function in fx.functions():
        names = [f'{function}/{v}' for v in fx.variants(function)]
        scores = {(m.a, m.b): m.similarity for m in result.matches if m.unit.name == function}
        score = lambda a, b: scores.get((a, b), scores.get((b, a), 0.0))   # noqa: E731
        independent = [score(a, b) for a, b in itertools.combinations(names, 2)]
        copies = [score(name, f'{name}~copy{seed}') for name in names for seed in COPY_SEEDS
                  if f'{name}~copy{seed}' in sources_named]
        counts = [len(result.prints[name, function].hashes) for name in names]
        rows.append({'function': function, 'fingerprints': (min(counts), max(counts)),
                     'independent': max(independent), 'copies': min(copies) if copies else None,
                     'judged from': fx.unit(function).judged_from(similarity.MIN_FINGERPRINTS)})
    return rows


def reference_counts(noise: int, guarantee: int) -> dict[str, int]:
    """Fingerprints of their own in each unit of our reference (BEGIN/END SOLUTION regions)."""
    boilerplate = similarity.starter_boilerplate(noise)
    counts = {}
    for unit in similarity.UNITS:
        path = paths.REFERENCE / similarity.PART_FOLDERS[unit.part] / unit.path
        text = similarity.unit_text({unit.path: path.read_text(encoding='utf-8')}, unit) or ''
        counts[unit.name] = len(similarity.fingerprint(text, boilerplate[unit.name], noise, guarantee).hashes)
    return counts


def use_copydetect_filter() -> None:
    """Replace the command's normalization by copydetect's (shares only: no source positions)."""
    import numpy as np
    from copydetect.utils import filter_code

    def normalize(source: str) -> similarity.Normalized:
        text, _ = filter_code(source, 'unit.py', 'python')
        return similarity.Normalized(text, np.zeros(len(text), dtype=np.int64), np.zeros(len(text), dtype=np.int64))
    similarity.normalize = normalize


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--noise', type=int, default=similarity.NOISE_CHARS)
    parser.add_argument('--guarantee', type=int, default=similarity.GUARANTEE_CHARS)
    parser.add_argument('--copydetect-filter', action='store_true', help="normalize with copydetect's filter_code")
    args = parser.parse_args()
    if args.copydetect_filter:
        use_copydetect_filter()
    rows = calibration(args.noise, args.guarantee)
    print(f'k = {args.noise} normalized characters, window = {args.guarantee - args.noise + 1} '
          f'(matches of {args.guarantee}+ characters always found)\n')
    print(f'{"unit":<30} {"fingerprints":>12} {"max independent":>16} {"min copy":>9}')
    for row in rows:
        low, high = row['fingerprints']
        copies = '-' if row['copies'] is None else f'{row["copies"]:.3f}'
        print(f'{row["function"]:<30} {f"{low}-{high}":>12} {row["independent"]:>16.3f} {copies:>9}'
              + ('' if low >= row['judged from'] else f'   an idiom: not judged below {row["judged from"]}'))
    judged = [r for r in rows if r['fingerprints'][0] >= r['judged from']]
    worst_independent = max(r['independent'] for r in judged)
    worst_copy = min(r['copies'] for r in judged)
    print(f'\nhighest independent {worst_independent:.3f}, lowest copy {worst_copy:.3f}: ', end='')
    if worst_independent < worst_copy:
        print(f'separable; midpoint {(worst_independent + worst_copy) / 2:.3f}, '
              f'THRESHOLD in graders/classroom/similarity.py is {similarity.THRESHOLD}')
    else:
        print('NOT separable with these parameters')
    print(f'\nown fingerprints of our reference per unit (judged at {similarity.MIN_FINGERPRINTS} or more, '
          f'or the unit\'s own minimum):')
    for unit, count in zip(similarity.UNITS, reference_counts(args.noise, args.guarantee).values()):
        print(f'  {unit.name:<32} {count:>4}  '
              f'{"judged" if count >= unit.judged_from(similarity.MIN_FINGERPRINTS) else "too short"}')
    idioms_judged = [r for r in rows if r not in judged and r['fingerprints'][1] >= r['judged from']]
    return 0 if worst_independent < similarity.THRESHOLD <= worst_copy and not idioms_judged else 1


if __name__ == '__main__':
    sys.exit(main())
