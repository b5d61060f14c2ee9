"""The Q8.8 leaderboard: challenge accuracy on the public 10% split and on all images.

- `leaderboard_entries(scored)`: the `leaderboard` of one results.json, from the figures the Q8.8
  checks recorded.
- `hw1grade leaderboard DIR`: ranks every Part 2 submission in DIR (zips or folders) by the accuracy
  of its predictions.csv, read as data through the usual intake; a terminal table, leaderboard.csv
  and leaderboard.html. No submitted code runs.
"""

from __future__ import annotations

import argparse
import csv
import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.data import challenge, cifar10
from graders.engine import intake
from graders.engine.outcome import UserError
from graders.engine.rubric import load_rubric

PUBLIC, FULL = 'Public accuracy (10% split)', 'Accuracy (all challenge images)'


def leaderboard_entries(scored) -> list[dict]:
    """[public, full] accuracy entries from the first challenge check that recorded both
    (graders/data/challenge.py: `QUESTION`, `record_scores`); [] when none did."""
    for s in scored:
        figures = s.check.measured
        recorded = {challenge.PUBLIC_ACCURACY, challenge.ACCURACY} <= set(figures)
        if s.check.question == challenge.QUESTION and recorded:
            return [{'name': PUBLIC, 'value': figures[challenge.PUBLIC_ACCURACY], 'order': 'desc'},
                    {'name': FULL, 'value': figures[challenge.ACCURACY], 'order': 'desc'}]
    return []


@dataclass
class Standing:
    """One submission on the leaderboard; accuracies are None when its predictions could not be scored."""
    name: str
    public: float | None = None
    full: float | None = None
    problem: str = ''
    public_rank: int | None = None
    rank: int | None = None


def score_submission(path: Path, labels: challenge.ChallengeLabels) -> Standing:
    """Unpack (or copy) one submission and score its predictions.csv."""
    name = path.name[:-4] if path.suffix.lower() == '.zip' else path.name
    scratch = Path(tempfile.mkdtemp(prefix='hw1grade-leaderboard-'))
    try:
        submission = intake.open_submission(path, part=2, scratch=scratch)
        public, full = challenge.score_predictions(submission.root, labels)
        return Standing(name, public, full)
    except (intake.IntakeError, challenge.PredictionsError) as err:
        return Standing(name, problem=str(err))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def rank(standings: list[Standing]) -> list[Standing]:
    """Ranks on each split (ties share a rank); sorted by full accuracy, unscored last."""
    for attribute, rank_attribute in (('public', 'public_rank'), ('full', 'rank')):
        scored = sorted((s for s in standings if getattr(s, attribute) is not None),
                        key=lambda s: -getattr(s, attribute))
        for s in scored:
            better = sum(1 for o in scored if getattr(o, attribute) > getattr(s, attribute))
            setattr(s, rank_attribute, better + 1)
    return sorted(standings, key=lambda s: (s.rank is None, s.rank or 0, s.name))


COLUMNS = ('rank', 'name', 'accuracy', 'public_rank', 'public_accuracy', 'problem')


def rows(standings: list[Standing]) -> list[dict]:
    return [{'rank': s.rank or '', 'name': s.name, 'accuracy': '' if s.full is None else f'{s.full:.4f}',
             'public_rank': s.public_rank or '', 'public_accuracy': '' if s.public is None else f'{s.public:.4f}',
             'problem': s.problem} for s in standings]


def terminal_table(standings: list[Standing]) -> str:
    lines = [f'{"rank":>4}  {"submission":<28} {"all":>7}  {"public rank":>11} {"public":>7}']
    for r in rows(standings):
        lines.append(f'{r["rank"]!s:>4}  {r["name"][:28]:<28} {r["accuracy"]:>7}  {r["public_rank"]!s:>11} '
                     f'{r["public_accuracy"]:>7}')
        if r['problem']:
            lines.append(f'      {r["problem"][:160]}')
    return '\n'.join(lines)


def write_csv(standings: list[Standing], path: Path) -> Path:
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows(standings))
    return path


def write_html(standings: list[Standing], path: Path) -> Path:
    e = html.escape
    body = ''.join('<tr>' + ''.join(f'<td>{e(str(r[c]))}</td>' for c in COLUMNS) + '</tr>' for r in rows(standings))
    head = ''.join(f'<th>{e(c.replace("_", " "))}</th>' for c in COLUMNS)
    path.write_text('<!doctype html><meta charset="utf-8"><title>Challenge leaderboard</title>'
                    '<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}'
                    'td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}</style>'
                    f'<h1>Challenge leaderboard</h1><table><tr>{head}</tr>{body}</table>\n', encoding='utf-8')
    return path


def leaderboard(folder: Path, labels_path: Path | None = None) -> list[Standing]:
    """Score and rank every zip and folder directly in `folder`."""
    if labels_path is None:
        settings = load_rubric().settings
        configured = settings['challenge'].get('labels') or ''
        labels_path = Path(configured) if configured else \
            challenge.default_labels(cifar10.ensure_cifar10(), settings=settings)
    labels = challenge.load_labels(labels_path)
    entries = sorted(p for p in Path(folder).iterdir()
                     if not p.name.startswith('.') and (p.is_dir() or p.suffix.lower() == '.zip'))
    return rank([score_submission(p, labels) for p in entries])


def leaderboard_command(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(f'{folder} is not a folder of submissions')
    standings = leaderboard(folder, Path(args.labels) if args.labels else None)
    out = Path(args.out) if args.out else Path('out') / 'leaderboard'
    out.mkdir(parents=True, exist_ok=True)
    print(terminal_table(standings))
    print(f'csv:  {write_csv(standings, out / "leaderboard.csv")}\n'
          f'html: {write_html(standings, out / "leaderboard.html")}')
    return 0


def add_leaderboard_commands(subparsers) -> None:
    """`hw1grade leaderboard DIR`."""
    command = subparsers.add_parser(
        'leaderboard', help='rank the Part 2 submissions in a folder by challenge accuracy',
        description='Rank every Part 2 submission (zip or folder) in DIR by the accuracy of its '
                    'predictions.csv on the public 10%% split and on all challenge images.')
    command.add_argument('folder', metavar='DIR', help='a folder of 2_pytorch zips or folders')
    command.add_argument('--labels', metavar='PATH', help='challenge_labels.json (default: the rubric\'s, '
                                                          'else the set built from CIFAR-10 in the cache)')
    command.add_argument('--out', metavar='DIR', help='where leaderboard.csv and .html go (default out/leaderboard)')
    command.set_defaults(handler=leaderboard_command)
