"""Check your own work before you submit: the visible checks of the TAs' grader, on your machine.

    python check.py                 # both parts, in the folder that holds 1_cs231n/ and 2_pytorch/
    python check.py --part 1        # Part 1 only
    python check.py --part 1 --folder path/to/1_cs231n

It runs every visible check of the TAs' grader on the code you have written so far and prints the
same table the TAs' report shows: each check's number, name and points, and for each failing check
what went wrong and what to fix. The checks are the TAs' own. Part 1: they compare your functions with
the outputs the reference solution gives on fixed public inputs (stored in selfcheck/part1/expected.npz,
no solution code) and check your gradients numerically against your own functions. Part 2: they build
your models with the sizes your run_<model>.sh passes, run them and look at their layers, and check
your logs, plots, 2_pytorch.pdf and extra.md. It needs only the packages of requirements.txt (and
pdftoppm for the PDF: where it is missing that check is n/a, not a failure); nothing is sent anywhere.

Not covered (the TAs grade them): the CIFAR-10 training runs on held-out images, your notebooks, and
the Q8.8 challenge score. A passing self-check is not a grade: the TAs' grader uses fresh random inputs.

Exit status: 0 when every check that ran passed (n/a: not checkable here), 1 otherwise, 2 for bad arguments.
"""
import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {1: '1_cs231n', 2: '2_pytorch'}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--part', type=int, choices=sorted(PARTS), action='append',
                        help='the part to check (default: every part folder present)')
    parser.add_argument('--folder', help="the part's folder (default: 1_cs231n/ or 2_pytorch/ beside this script)")
    parser.add_argument('--summary', action='store_true', help='one line per part (collect_submission uses it)')
    parser.add_argument('--json', metavar='PATH', help='also write the verdicts as JSON')
    parser.add_argument('--record', action='store_true', help=argparse.SUPPRESS)   # starter build only
    parser.add_argument('--select', help=argparse.SUPPRESS)   # a pytest -k expression (the grader's tests)
    args = parser.parse_args(argv)
    parts = args.part or [p for p, name in PARTS.items() if (HERE / name).is_dir()]
    unchecked = [p for p in parts if not (HERE / 'selfcheck' / f'part{p}').is_dir()]
    for part in unchecked:
        print(f'self-check Part {part}: no visible checks of this part are in this starter yet')
    parts = [p for p in parts if p not in unchecked]
    if unchecked and not parts:
        return 0
    if args.folder and len(parts) != 1:
        parser.error('--folder needs exactly one --part')
    if not parts and not unchecked:
        parser.error('no 1_cs231n/ or 2_pytorch/ folder beside check.py: give --part and --folder')
    sys.dont_write_bytecode = True      # nothing of the self-check is left in your folders
    sys.path.insert(0, str(HERE))
    from selfcheck import runtime

    ok, document = True, {}
    for part in parts:
        folder = Path(args.folder) if args.folder else HERE / PARTS[part]
        if not folder.is_dir():
            print(f'check.py: Part {part}: no folder {folder}', file=sys.stderr)
            ok = False
            continue
        started = time.monotonic()
        session = runtime.run(part, folder, 'record' if args.record else 'replay', args.select)
        seconds = time.monotonic() - started
        rows = runtime.scored(session)
        failed = [r for r, *_ in rows if not r.passed and not r.unavailable]
        unchecked = [r for r, *_ in rows if r.unavailable]
        ok = ok and not failed
        document[str(part)] = {'seconds': round(seconds, 2), 'checks': runtime.verdicts(session)}
        if args.summary:
            score = round(sum(e for _, _, e, _ in rows), 2)
            possible = round(sum(m for _, _, _, m in rows), 2)
            print(f'self-check Part {part}: {len(rows) - len(failed) - len(unchecked)} of {len(rows)} visible checks '
                  f'pass, {score:g} / {possible:g} visible points'
                  + (f', {len(unchecked)} not checkable here' if unchecked else '')
                  + (' (run `python check.py` for what to fix)' if failed else ''))
        else:
            print(runtime.table(session, folder.name, seconds))
            if failed:
                print(f'To fix: the {len(failed)} check(s) marked FAIL above, each with what went wrong.')
            if unchecked:
                print(f'Not checked here: the {len(unchecked)} check(s) marked n/a above (the TAs\' grader '
                      'checks them).')
    if not args.summary:
        print('Visible checks only: the TAs also train your code on CIFAR-10 and run your notebooks.')
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=1), encoding='utf-8')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
