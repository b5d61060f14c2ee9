"""graders.notebooks.runner on tiny notebooks made here: errors, probes, kernel command prefix, CLI, summary."""
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from graders import cli
from graders.notebooks import runner as nbrun


def write_notebook(path, *sources, markdown_first=True):
    nb = nbformat.v4.new_notebook()
    if markdown_first:
        nb.cells.append(nbformat.v4.new_markdown_cell('# a test notebook'))
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in sources)
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
def test_probes_read_the_kernel_state_not_the_text(tmp_path):
    path = write_notebook(tmp_path / 'a.ipynb',
                          'import numpy as np\nx = np.arange(6.0).reshape(2, 3)',
                          'total = x.sum()\nprint("total is 999")  # printed text must not matter',
                          'import os\ncwd = os.getcwd()')
    run = nbrun.execute_notebook(path, cwd=tmp_path, timeout_per_cell=60, probes={
        'total': 'total', 'shape': 'x.shape', 'array': 'x[0]', 'cwd': 'cwd',
        'mapping': '{"a": np.float64(1.5), 2: [np.int64(3)]}', 'nan': 'float("nan")',
        'missing': 'undefined_name', 'object': 'object()'})
    assert run.ok and run.errors == []
    assert run.probes['total'] == 15.0
    assert run.probes['shape'] == [2, 3]
    assert run.probes['array'] == [0.0, 1.0, 2.0]
    assert Path(run.probes['cwd']).resolve() == tmp_path.resolve()
    assert run.probes['mapping'] == {'a': 1.5, '2': [3]}
    assert run.probes['nan'] == 'nan'
    assert run.probes['object'].startswith('<object object')
    assert 'missing' not in run.probes and run.probe_errors['missing'].startswith('NameError')
    # The executed notebook has its outputs, and no trace of the probe cell.
    assert len(run.notebook.cells) == 4
    assert 'total is 999' in run.notebook.cells[2].outputs[0]['text']
    assert run.elapsed > 0


@pytest.mark.notebook
def test_errors_are_recorded_and_later_cells_still_run(tmp_path):
    path = write_notebook(tmp_path / 'b.ipynb', 'a = 1', 'raise ValueError("boom")', 'b = a + 1',
                          'import numpy as np\nnp.int(3)')
    run = nbrun.execute_notebook(path, timeout_per_cell=60, probes={'b': 'b'})
    assert not run.ok
    assert [(e.index, e.ename) for e in run.errors] == [(2, 'ValueError'), (4, 'AttributeError')]
    assert run.errors[0].evalue == 'boom'
    assert run.probes == {'b': 2}


@pytest.mark.notebook
def test_stop_on_error_skips_the_rest(tmp_path):
    path = write_notebook(tmp_path / 'c.ipynb', 'a = 1', '1 / 0', 'b = 2')
    run = nbrun.execute_notebook(path, timeout_per_cell=60, probes={'a': 'a', 'b': 'b'}, stop_on_error=True)
    assert [(e.index, e.ename) for e in run.errors] == [(2, 'ZeroDivisionError')]
    assert run.probes == {'a': 1} and 'b' in run.probe_errors


@pytest.mark.notebook
def test_a_cell_over_its_timeout_ends_the_run(tmp_path):
    path = write_notebook(tmp_path / 'd.ipynb', 'import time\nstarted = 1\ntime.sleep(30)', 'after = 1',
                          markdown_first=False)
    run = nbrun.execute_notebook(path, timeout_per_cell=2, probes={'started': 'started', 'after': 'after'})
    assert [e.ename for e in run.errors] == ['CellTimeoutError']
    assert run.elapsed < 25
    assert run.probes.get('started') == 1 and 'after' in run.probe_errors


@pytest.mark.notebook
def test_kernel_command_prefix_wraps_the_kernel(tmp_path):
    path = write_notebook(tmp_path / 'e.ipynb', 'import os')
    run = nbrun.execute_notebook(path, timeout_per_cell=60, kernel_cmd_prefix=['env', 'HW1GRADE_WRAPPED=yes'],
                                 probes={'wrapped': 'os.environ.get("HW1GRADE_WRAPPED")'})
    assert run.ok and run.probes == {'wrapped': 'yes'}


@pytest.mark.notebook
def test_kernel_manager_factory_is_used(tmp_path):
    path = write_notebook(tmp_path / 'f.ipynb', 'import os')
    made = []

    def factory():
        km = nbrun.PrefixedKernelManager(kernel_name='python3', kernel_cmd_prefix=['env', 'FROM_FACTORY=1'])
        made.append(km)
        return km

    run = nbrun.execute_notebook(path, timeout_per_cell=60, kernel_manager_factory=factory,
                                 probes={'flag': 'os.environ.get("FROM_FACTORY")'})
    assert len(made) == 1 and run.probes == {'flag': '1'}


def test_probe_tables_are_consistent():
    assert set(nbrun.PROBES) == set(nbrun.NOTEBOOKS) == set(nbrun.KEY_FIGURES)
    for name, figures in nbrun.KEY_FIGURES.items():
        assert set(figures) <= set(nbrun.PROBES[name]), name
        for expr in nbrun.PROBES[name].values():
            compile(expr, name, 'eval')


@pytest.mark.notebook
def test_cli_runs_a_folder_and_fails_on_errors(tmp_path, capsys, monkeypatch):
    folder = tmp_path / 'nbs'
    folder.mkdir()
    monkeypatch.setattr(nbrun, 'NOTEBOOKS', ('good.ipynb', 'bad.ipynb', 'absent.ipynb'))
    monkeypatch.setattr(nbrun, 'PROBES', {'good.ipynb': {'answer': 'answer'}})
    monkeypatch.setattr(nbrun, 'KEY_FIGURES', {'good.ipynb': ('answer',)})
    write_notebook(folder / 'good.ipynb', 'answer = 6 * 7')
    write_notebook(folder / 'bad.ipynb', 'raise RuntimeError("no")')
    out = tmp_path / 'out'
    code = cli.main(['notebooks', 'run', str(folder), '--out', str(out), '--timeout', '60'])
    printed = capsys.readouterr().out
    assert code == 1
    assert 'good.ipynb' in printed and 'answer=42' in printed
    assert 'failed (cell 1)' in printed and 'RuntimeError: no' in printed
    assert 'absent.ipynb' in printed and 'FileNotFoundError' in printed
    assert (out / 'good.ipynb').is_file() and (out / 'bad.ipynb').is_file()
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['good.ipynb']['ok'] and summary['good.ipynb']['probes'] == {'answer': 42}
    assert not summary['bad.ipynb']['ok']


def test_cli_missing_folder_is_a_user_error(tmp_path, capsys):
    assert cli.main(['notebooks', 'run', str(tmp_path / 'nope'), '--out', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('hw1grade: error:')


@pytest.mark.notebook
def test_clear_outputs(tmp_path):
    path = write_notebook(tmp_path / 'g.ipynb', 'print(1)')
    run = nbrun.execute_notebook(path, timeout_per_cell=60)
    assert run.notebook.cells[1].outputs
    nb = nbrun.clear_outputs(run.notebook)
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None


@pytest.mark.parametrize('value, text', [(0.5, '0.5'), (1.234e-9, '1.2e-09'), ([1.0, 2.0], '[1, 2]'),
                                         ({'a': 0.25}, '{a 0.25}')])
def test_summary_formatting(value, text):
    assert nbrun._fmt(value) == text


@pytest.mark.notebook
def test_kernel_environment_defaults_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv('OPENBLAS_NUM_THREADS', raising=False)
    monkeypatch.setenv('OMP_NUM_THREADS', '3')       # the caller's environment wins over the defaults
    path = write_notebook(tmp_path / 'h.ipynb', 'import os')
    run = nbrun.execute_notebook(path, timeout_per_cell=60, env={'EXTRA': 'x'}, probes={
        'blas': 'os.environ.get("OPENBLAS_NUM_THREADS")', 'omp': 'os.environ.get("OMP_NUM_THREADS")',
        'extra': 'os.environ.get("EXTRA")'})
    assert run.probes == {'blas': '1', 'omp': '3', 'extra': 'x'}


@pytest.mark.notebook
def test_the_kernel_is_shut_down_afterwards(tmp_path):
    path = write_notebook(tmp_path / 'k.ipynb', 'import os\npid = os.getpid()')
    made = []

    def factory():
        made.append(nbrun.PrefixedKernelManager(kernel_name='python3'))
        return made[-1]

    run = nbrun.execute_notebook(path, timeout_per_cell=60, kernel_manager_factory=factory, probes={'pid': 'pid'})
    pid = run.probes['pid']
    assert not made[0].has_kernel
    for _ in range(50):            # the process may take a moment to go away
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f'kernel process {pid} still running')


@pytest.mark.notebook
def test_a_dead_kernel_is_reported(tmp_path):
    path = write_notebook(tmp_path / 'dead.ipynb', 'a = 1', 'import os\nos._exit(3)', 'b = 2')
    run = nbrun.execute_notebook(path, timeout_per_cell=60, probes={'a': 'a'})
    assert [(e.index, e.ename) for e in run.errors] == [(2, 'DeadKernelError')]
    assert run.probes == {} and run.probe_errors == {'*': 'the kernel died'}
