"""Calibrate the rubric's Part 2 training runs ([part2_training.*]) on the zoo: grade every member of
fixtures/part2_zoo.py (correct architectures of every kind students write, and broken ones) and the
reference's models, with each run seeded 0..N-1, through the real checks (forward, architecture,
training: `grade(..., select=...)`, code in the sandbox); print one row per member: the accuracy per
seed, the winning setting, the worst seconds, and whether the verdict is the declared one.

    .venv/bin/python benchmarks/calibrate_part2.py [--seeds 3] [--only TEXT] [--jobs N]

Sound when every correct member passes every model check on every seed with a margin over the
threshold, and every broken member fails the check it declares on every seed (last line: ALL AS
DECLARED, else the rows that are not). Run it with the machine as quiet as possible: it trains about
20 models per seed, one thread each.
"""
import argparse
import concurrent.futures
import copy
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixtures import part2_zoo as zoo  # noqa: E402
from graders.engine.grade import grade  # noqa: E402
from graders.engine.rubric import load_rubric  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / 'reference' / '2_pytorch'
SELECT = ' or '.join(zoo.MODEL_CHECKS)
REFERENCE_MEMBERS = tuple(zoo.Member(f'reference {model}', model, (REFERENCE / path).read_text(),
                                     keep_script=True)
                          for model, path in zoo.FILES.items())


def verdicts(graded, member: zoo.Member) -> dict[str, object]:
    """check name -> ScoredCheck of the member's question."""
    return {s.check.name: s for s in graded.scored if s.check.question == member.question}


def as_declared(member: zoo.Member, checks: dict) -> bool:
    if member.correct:
        return all(checks[name].check.passed for name in zoo.MODEL_CHECKS if name in checks)
    failed = checks.get(member.fails)
    return failed is not None and not failed.check.passed and member.says in failed.check.message


def grade_group(seed: int, index: int, group: tuple, scratch: str) -> list[tuple[str, dict]]:
    """Grade one tree (up to one member per model) with every run seeded `seed`; a row per member."""
    rubric = copy.deepcopy(load_rubric())
    for run in rubric.settings['part2_training'].values():
        run['seed'] = seed
    tree = zoo.build_tree(REFERENCE, Path(scratch) / f's{seed}-t{index}' / '2_pytorch', group)
    questions = ' or '.join(f'test_q8_{m.question[-1]}' for m in group)
    graded = grade(tree, part=2, rubric=rubric, select=f'({questions}) and ({SELECT})', notebooks=False,
                   companions=())
    rows = []
    for member in group:
        checks = verdicts(graded, member)
        training = checks.get('test_training')
        row = {'seed': seed, 'ok': as_declared(member, checks),
               'accuracy': training.check.measured.get('accuracy', float('nan')) if training else float('nan'),
               'seconds': training.check.seconds if training else 0.0,
               'recipe': training.check.measured.get('recipe', '') if training else '',
               'why': '; '.join(f'{n}: {s.check.message[:90]}' for n, s in checks.items() if not s.check.passed)}
        print(f'seed {seed} {"correct" if member.correct else "broken "} {member.name[:64]:<64} '
              f'{row["accuracy"]:.3f} {"as declared" if row["ok"] else "NOT AS DECLARED"} '
              f'{row["seconds"]:5.1f} s {row["recipe"]}  {row["why"][:160]}', flush=True)
        rows.append((member.name, row))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--only', default='', help='members whose name contains this text')
    parser.add_argument('--jobs', type=int, default=1, help='trees graded at once (each one thread)')
    args = parser.parse_args()
    base = load_rubric()
    members = [m for m in (*REFERENCE_MEMBERS, *zoo.ZOO) if args.only in m.name]
    groups = (zoo.trees(tuple(m for m in members if m.keep_script))
              + zoo.trees(tuple(m for m in members if not m.keep_script)))
    rows: dict[str, list[dict]] = {m.name: [] for m in members}
    with tempfile.TemporaryDirectory() as scratch, \
            concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        tasks = [pool.submit(grade_group, seed, i, group, scratch)
                 for seed in range(args.seeds) for i, group in enumerate(groups)]
        for task in tasks:
            for name, row in task.result():
                rows[name].append(row)
    print(f'\n{"member":<66} {"model":<10} {"expected":<17} '
          + ' '.join(f'{"seed " + str(s):>7}' for s in range(args.seeds)) + f' {"max s":>6}  verdict')
    bad = []
    by_name = {m.name: m for m in members}
    for name, runs in rows.items():
        member = by_name[name]
        runs.sort(key=lambda r: r['seed'])
        expected = 'pass' if member.correct else f'fail {member.fails[5:]}'
        accuracies = ' '.join(f'{r["accuracy"]:>7.3f}' for r in runs)
        ok = all(r['ok'] for r in runs)
        if not ok:
            bad.append(name)
        print(f'{name[:66]:<66} {member.model:<10} {expected:<17} {accuracies} '
              f'{max(r["seconds"] for r in runs):>6.1f}  {"as declared" if ok else "NOT AS DECLARED"}')
    for model in zoo.FILES:
        correct = [r['accuracy'] for name, runs in rows.items() if by_name[name].model == model
                   and by_name[name].correct for r in runs]
        if correct:
            run = base.settings['part2_training'][model]
            print(f'{model}: correct members min {min(correct):.3f} max {max(correct):.3f}; threshold '
                  f'{run["threshold"]:.2f}, ceiling {run.get("ceiling", float("nan")):.2f}')
    print('ALL AS DECLARED' if not bad else 'NOT AS DECLARED: ' + '; '.join(bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
