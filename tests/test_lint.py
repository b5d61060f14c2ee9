"""The code passes `ruff check` with the repository's configuration (pyproject.toml [tool.ruff]), so that CI
(`make test`) keeps it passing: an unused import, an undefined name or a misordered import block fails here."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def ruff() -> str:
    """The pinned ruff of the test extras (beside this Python), else one on PATH."""
    beside = Path(sys.executable).with_name('ruff')
    found = str(beside) if beside.is_file() else shutil.which('ruff')
    if found is None:
        pytest.fail("ruff is missing: it is pinned in pyproject.toml's test extras (pip install -e '.[test]')")
    return found


def run_ruff(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([ruff(), 'check', '--no-cache', '--output-format', 'concise', *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_code_passes_ruff_check():
    proc = run_ruff('.')
    assert proc.returncode == 0, f'`ruff check .` found problems (fix them; `ruff check --fix FILE` fixes most):\n' \
                                 f'{proc.stdout[-6000:]}{proc.stderr[-2000:]}'


def test_the_configuration_catches_what_it_is_for(tmp_path):
    """The check above can fail: with the repository's configuration, ruff finds an unused import, an
    undefined name, a misordered import block and a line over the length."""
    bad = tmp_path / 'bad.py'
    bad.write_text('import sys\nimport os\n\n\ndef f():\n    return undefined_name  # ' + 'x' * 120 + '\n')
    proc = run_ruff('--config', str(ROOT / 'pyproject.toml'), bad.name, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = {line.split(': ', 1)[1].split(' ', 1)[0] for line in proc.stdout.splitlines()
             if line.startswith('bad.py:')}
    assert {'F401', 'F821', 'I001', 'E501'} <= found, proc.stdout


def test_test_modules_import_helpers_only_from_tests_helpers():
    """Shared test helpers live in one module, tests/helpers.py; fixtures in conftest.py files, found by pytest.
    A test module importing from a conftest or from another test module grows a second home for helpers."""
    offenders = []
    for path in sorted((ROOT / 'tests').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ''
                if node.level or (module.startswith('tests.') and module != 'tests.helpers'):
                    offenders.append(f'{path.relative_to(ROOT)}:{node.lineno}: from {"." * node.level}{module}')
            elif isinstance(node, ast.Import):
                offenders += [f'{path.relative_to(ROOT)}:{node.lineno}: import {alias.name}' for alias in node.names
                              if alias.name.startswith('tests.') and alias.name != 'tests.helpers']
    assert offenders == [], 'move what these import to tests/helpers.py:\n' + '\n'.join(offenders)
