"""The notebook runner's JSON summary, validated: what the sandbox says about one notebook's run.

Threat model: graders/inside/run_notebook.py writes the summary inside the sandbox, where the notebook's
kernel can rewrite it at any time. So it is untrusted data: read with `graders.engine.untrusted`
(capped, no link followed), parsed without NaN or Infinity, every key and type checked, texts and
lists cut, probe values plain JSON only, and only the probes asked for kept; anything else is
`Untrusted` (the report says the runner failed). The test predictions among the probes are scored
here (`score_predictions`) against labels the sandbox never saw.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from graders.engine.untrusted import Untrusted
from graders.inside.run_notebook import SUMMARY_FORMAT
from graders.inside.shown_paths import short_paths

# Caps on what is kept of a summary.
MAX_CELLS = 10_000
TEXT_CHARS = 3000

@dataclasses.dataclass
class Summary:
    """A validated summary of one sandboxed run (see run_notebook.summary_dict)."""
    finished: bool
    fatal: str | None
    seconds: float
    code_cells: list[int]
    executed: list[int]
    running: int | None
    errors: list[dict]
    probes: dict[str, Any]
    probe_errors: dict[str, str]
    budget_ran_out: bool = False   # the runner stopped the run at its time budget (not a cell's own timeout)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Untrusted(f'{what} is not a string')
    return value[:TEXT_CHARS]


def _index(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_CELLS:
        raise Untrusted(f'{what} is not a cell index')
    return value


def _indexes(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_CELLS:
        raise Untrusted(f'{what} is not a list of cell indexes')
    return [_index(v, what) for v in value]


def _plain(value: Any, depth: int = 0) -> Any:
    """A probe value: JSON scalars, lists and string-keyed dicts, at most 4 levels deep."""
    if depth > 4:
        raise Untrusted('a probe value is nested too deeply')
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Untrusted('a probe value is not finite')
        return value
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_text(k, 'a probe key'): _plain(v, depth + 1) for k, v in value.items()}
    raise Untrusted('a probe value is not plain JSON')


SUMMARY_KEYS = {'format', 'finished', 'fatal', 'seconds', 'code_cells', 'executed', 'running', 'errors',
                'probes', 'probe_errors', 'budget_ran_out'}


def parse_summary(raw: bytes, probe_names: Sequence[str]) -> Summary:
    """Validate the runner's JSON summary; only the probes asked for are kept."""
    def no_constants(name):
        raise Untrusted(f'{name} is not JSON')
    try:
        data = json.loads(raw.decode('utf-8'), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise Untrusted(f'the summary is not valid JSON ({type(e).__name__})') from None
    if not isinstance(data, dict) or set(data) != SUMMARY_KEYS:
        raise Untrusted('the summary does not have the expected keys')
    if data['format'] != SUMMARY_FORMAT:
        raise Untrusted('the summary has another format')
    if not isinstance(data['finished'], bool) or not isinstance(data['budget_ran_out'], bool):
        raise Untrusted('finished or budget_ran_out is not a boolean')
    seconds = data['seconds']
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < 1e6:
        raise Untrusted('seconds is not a duration')
    errors = data['errors']
    if not isinstance(errors, list) or len(errors) > MAX_CELLS:
        raise Untrusted('errors is not a list')
    checked = []
    for error in errors:
        if not isinstance(error, dict) or set(error) != {'index', 'ename', 'evalue', 'traceback'}:
            raise Untrusted('an error does not have the expected keys')
        checked.append({'index': _index(error['index'], 'an error index'),
                        'ename': _text(error['ename'], 'ename')[:200],
                        # files as the student knows them (cs231n/layers.py), never the machine's folders
                        'evalue': short_paths(_text(error['evalue'], 'evalue')),
                        'traceback': short_paths(_text(error['traceback'], 'a traceback'))})
    probes, probe_errors = data['probes'], data['probe_errors']
    if not isinstance(probes, dict) or not isinstance(probe_errors, dict):
        raise Untrusted('probes are not objects')
    wanted = set(probe_names) | {'*'}
    return Summary(
        finished=data['finished'],
        fatal=None if data['fatal'] is None else _text(data['fatal'], 'fatal'),
        seconds=float(seconds),
        code_cells=_indexes(data['code_cells'], 'code_cells'),
        executed=_indexes(data['executed'], 'executed'),
        running=None if data['running'] is None else _index(data['running'], 'running'),
        errors=checked,
        probes={k: _plain(v) for k, v in probes.items() if k in wanted},
        probe_errors={k: _text(v, 'a probe error') for k, v in probe_errors.items() if k in wanted},
        budget_ran_out=data['budget_ran_out'])


def score_predictions(predictions: Any, labels: np.ndarray) -> tuple[float, int]:
    """(accuracy, count) of predicted classes for the first len(predictions) test images."""
    if (not isinstance(predictions, list) or not 0 < len(predictions) <= len(labels)
            or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 9 for p in predictions)):
        raise Untrusted(f'the test predictions are not a list of at most {len(labels)} classes 0..9')
    return float(np.mean(np.asarray(predictions) == labels[:len(predictions)])), len(predictions)
