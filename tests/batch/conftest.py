"""Fixtures of the batch tests: a small class folder, fast grading options, a real Dask cluster."""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.hostile_zips import HOSTILE_ZIPS
from tests.helpers import EXAMPLES, ROOT

DASK = Path(sys.executable).with_name('dask')


def make_class(folder: Path) -> Path:
    """alice_1_cs231n.zip and bob/2_pytorch.zip (the bundled examples), carol's truncated zip,
    dave's zip-slip zip."""
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLES / '1_cs231n.zip', folder / 'alice_1_cs231n.zip')
    (folder / 'bob').mkdir()
    shutil.copy(EXAMPLES / '2_pytorch.zip', folder / 'bob' / '2_pytorch.zip')
    (folder / 'carol_1_cs231n.zip').write_bytes((EXAMPLES / '1_cs231n.zip').read_bytes()[:5000])
    built = HOSTILE_ZIPS['zip_slip'].build(folder)
    built.rename(folder / 'dave_1_cs231n.zip')
    return folder


@pytest.fixture
def class_folder(tmp_path):
    return make_class(tmp_path / 'submissions')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Cluster:
    """A `dask scheduler` and `dask worker` processes on loopback, each in its own process group."""

    def __init__(self, log_dir: Path):
        self.address = f'tcp://127.0.0.1:{_free_port()}'
        self.log_dir, self.processes = log_dir, {}
        self._start('scheduler', [str(DASK), 'scheduler', '--host', '127.0.0.1',
                                  '--port', self.address.rsplit(':', 1)[1], '--no-dashboard'])

    def _start(self, name, argv):
        log = open(self.log_dir / f'{name}.log', 'w')
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def add_worker(self, name: str):
        self._start(name, [str(DASK), 'worker', self.address, '--nthreads', '1', '--no-nanny',
                           '--no-dashboard', '--name', name])

    def wait_for_workers(self, n: int):
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(n, timeout=60)

    def kill(self, name: str):
        os.killpg(self.processes[name].pid, 9)
        self.processes[name].wait()

    def close(self):
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.kill(name)


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-threaded workers, w0 and w1."""
    cluster = Cluster(tmp_path)
    try:
        cluster.add_worker('w0')
        cluster.add_worker('w1')
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()
