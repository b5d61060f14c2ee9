"""`hw1grade batch --scheduler`: a real `dask scheduler` and two `dask worker` processes on loopback."""
import subprocess
import sys
import time

import pandas as pd
import pytest

from graders.classroom.batch import run_batch
from tests.helpers import EXPECTED, FAST, FAST_FLAGS, ROOT, check_class_outputs, statuses

pytestmark = pytest.mark.slow


def test_killing_a_worker_and_the_client_mid_batch_loses_nothing(class_folder, tmp_path, dask_cluster):
    """A class graded on an existing cluster, through a worker and the client killed mid-way: the re-run
    grades only what was lost, every student once, each on one of the cluster's workers."""
    out = tmp_path / 'out'
    client = subprocess.Popen([sys.executable, '-m', 'graders.cli', 'batch', str(class_folder), '--out', str(out),
                               '--scheduler', dask_cluster.address, *FAST_FLAGS], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob('*/*/status.json')) and time.monotonic() < deadline and client.poll() is None:
        time.sleep(0.1)
    dask_cluster.kill('w0')
    client.kill()
    client.wait()
    done_before = len(list(out.glob('*/*/status.json')))
    assert 1 <= done_before < len(EXPECTED), 'the batch was not caught mid-way'

    counts = run_batch(class_folder, out, scheduler=dask_cluster.address, options=FAST, log=lambda line: None)
    assert counts['skipped'] == done_before and counts['lost'] == 0
    assert sum(counts.values()) == len(EXPECTED)
    check_class_outputs(out)
    workers = {record['worker'] for record in statuses(out).values()}
    assert workers and all(w.startswith('tcp://127.0.0.1:') for w in workers)
    book = pd.read_csv(out / 'gradebook.csv')
    assert len(book) == len(EXPECTED) and book['student'].is_unique
