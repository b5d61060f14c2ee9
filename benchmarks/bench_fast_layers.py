"""
Benchmark of the fast layers of Part 1 (a script, not a test).

    python benchmarks/bench_fast_layers.py [--repeats R] [--skip-naive]

Prints
(a) the speedups of the fast conv and pool layers over the naive ones, in
    float64, on the shapes of layers.ipynb (conv: x (100, 3, 31, 31),
    w (25, 3, 3, 3), stride 2, pad 1; pool: x (100, 3, 32, 32), 2x2 regions,
    stride 2);
(b) the fast conv forward+backward against torch.nn.functional.conv2d
    forward+backward (autograd: gradients of input, weight and bias) on the
    shape of convnet.ipynb (x (50, 3, 32, 32), w (32, 3, 7, 7), pad 3,
    stride 1), in float64 and float32, with torch limited to the number of
    threads numpy's BLAS uses.
Both sides are timed in the same run, alternately, in turns: each turn runs
one side once untimed (so that threads of the other side that are still
spinning, and its data in the caches, do not count against it), then times
3 calls. The figures are medians (and minima) over all timed calls.

The extension must be built first (make ext). On a machine shared with other
work the timings are noisy; compare figures from one run only.
"""
import argparse
import ctypes
import glob
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'reference', '1_cs231n'))

from cs231n import fast_layers  # noqa: E402
from cs231n.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast  # noqa: E402
from cs231n.layers import conv_backward_naive, conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive  # noqa: E402


def blas_info():
    """(description of numpy's BLAS, number of threads it uses, how that was found)."""
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get('user_api') == 'blas':
                desc = '%s %s (%s, %s)' % (pool.get('internal_api'), pool.get('version'),
                                          pool.get('architecture'), pool.get('filepath'))
                return desc, pool['num_threads'], 'threadpoolctl'
    except ImportError:
        pass
    config = np.show_config(mode='dicts')
    blas = config.get('Build Dependencies', {}).get('blas', {})
    desc = '%s %s' % (blas.get('name', '?'), blas.get('version', '?'))
    # numpy's wheels bundle scipy-openblas: ask the library itself.
    libs_dir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), 'numpy.libs')
    for path in sorted(glob.glob(os.path.join(libs_dir, '*openblas*'))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ('scipy_openblas', 'openblas'):
            get_threads = (getattr(lib, prefix + '_get_num_threads64_', None)
                           or getattr(lib, prefix + '_get_num_threads', None))
            get_core = (getattr(lib, prefix + '_get_corename64_', None)
                        or getattr(lib, prefix + '_get_corename', None))
            if get_threads is None:
                continue
            core = '?'
            if get_core is not None:
                get_core.restype = ctypes.c_char_p
                core = get_core().decode()
            return ('%s, kernels for %s (%s)' % (desc, core, os.path.basename(path)),
                    int(get_threads()), prefix + '_get_num_threads() through ctypes')
    return desc, os.cpu_count(), 'a guess: os.cpu_count()'


def time_calls(functions, repeats, block=3):
    """
    Time the functions alternately, in turns: each turn runs one function
    once untimed, then `block` timed calls. Returns {name: array of seconds},
    repeats * block times each.
    """
    for f in functions.values():                 # warm-up
        f()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, f in functions.items():
            f()
            for _ in range(block):
                start = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def rel_error(a, b):
    """Largest difference relative to the largest magnitude: max|a - b| / max|b|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def naive_vs_fast(repeats):
    rng = np.random.default_rng(231)
    print('\n(a) naive vs fast layers, float64, shapes of layers.ipynb (medians)')
    print('    %-24s %12s %12s %10s %12s' % ('', 'naive ms', 'fast ms', 'speedup', 'rel. error'))

    def report(label, t, step, err):
        naive = np.median(t['%s naive' % step]) * 1e3
        fast = np.median(t['%s fast' % step]) * 1e3
        print('    %-24s %12.3f %12.3f %9.1fx %12.1e' % (label, naive, fast, naive / fast, err))

    x = rng.standard_normal((100, 3, 31, 31))
    w = rng.standard_normal((25, 3, 3, 3))
    b = rng.standard_normal(25)
    conv_param = {'stride': 2, 'pad': 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out_naive.shape)
    grads_naive = conv_backward_naive(dout, cache_naive)
    grads_fast = conv_backward_fast(dout, cache_fast)
    t = time_calls({
        'fwd naive': lambda: conv_forward_naive(x, w, b, conv_param),
        'fwd fast': lambda: conv_forward_fast(x, w, b, conv_param),
        'bwd naive': lambda: conv_backward_naive(dout, cache_naive),
        'bwd fast': lambda: conv_backward_fast(dout, cache_fast),
    }, repeats, block=1)
    report('conv forward (3x3, s2)', t, 'fwd', rel_error(out_fast, out_naive))
    report('conv backward', t, 'bwd', max(rel_error(f, n) for f, n in zip(grads_fast, grads_naive)))

    x = rng.standard_normal((100, 3, 32, 32))
    pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out_naive.shape)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    dx_fast = max_pool_backward_fast(dout, cache_fast)
    t = time_calls({
        'fwd naive': lambda: max_pool_forward_naive(x, pool_param),
        'fwd fast': lambda: max_pool_forward_fast(x, pool_param),
        'bwd naive': lambda: max_pool_backward_naive(dout, cache_naive),
        'bwd fast': lambda: max_pool_backward_fast(dout, cache_fast),
    }, repeats, block=1)
    report('pool forward (2x2, s2)', t, 'fwd', rel_error(out_fast, out_naive))
    report('pool backward', t, 'bwd', rel_error(dx_fast, dx_naive))


def fast_vs_torch(repeats, threads):
    import torch
    import torch.nn.functional as tf
    torch.set_num_threads(threads)
    print('\n(b) fast conv forward+backward vs torch.nn.functional.conv2d forward+backward')
    print('    x (50, 3, 32, 32), w (32, 3, 7, 7), stride 1, pad 3; torch %s with %d threads'
          % (torch.__version__, torch.get_num_threads()))
    print('    %-8s %18s %18s %11s %14s' % ('dtype', 'ours ms (min)', 'torch ms (min)',
                                          'ours/torch', 'max rel. err'))
    rng = np.random.default_rng(7643)
    ratios = {}
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((50, 3, 32, 32)).astype(dtype)
        w = (rng.standard_normal((32, 3, 7, 7)) * 0.1).astype(dtype)
        b = rng.standard_normal(32).astype(dtype)
        dout = rng.standard_normal((50, 32, 32, 32)).astype(dtype)
        conv_param = {'stride': 1, 'pad': 3}
        tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
        tdout = torch.from_numpy(dout)

        def ours():
            out, cache = conv_forward_fast(x, w, b, conv_param)
            return (out,) + conv_backward_fast(dout, cache)

        def reference():
            tx.grad = tw.grad = tb.grad = None
            out = tf.conv2d(tx, tw, tb, stride=1, padding=3)
            out.backward(tdout)
            return out

        results = ours()
        out_t = reference()
        expected = (out_t.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy())
        err = max(rel_error(a, e) for a, e in zip(results, expected))
        t = time_calls({'ours': ours, 'torch': reference}, repeats)
        ours_ms, torch_ms = np.median(t['ours']) * 1e3, np.median(t['torch']) * 1e3
        ratios[np.dtype(dtype).name] = ours_ms / torch_ms
        print('    %-8s %9.2f (%6.2f) %9.2f (%6.2f) %11.2f %14.1e' % (
            np.dtype(dtype).name, ours_ms, t['ours'].min() * 1e3,
            torch_ms, t['torch'].min() * 1e3, ours_ms / torch_ms, err))
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=10,
                        help='turns per measurement; in (b) each turn times 3 calls (default 10)')
    parser.add_argument('--skip-naive', action='store_true', help='only run part (b)')
    args = parser.parse_args()

    desc, threads, how = blas_info()
    load = ' '.join('%.2f' % v for v in os.getloadavg()) if hasattr(os, 'getloadavg') else '?'
    print('numpy %s; BLAS: %s' % (np.__version__, desc))
    print('BLAS threads: %d (from %s); CPUs: %d; load average: %s'
          % (threads, how, os.cpu_count(), load))
    print('fast layers: %d threads, chunks of at most %d bytes of columns, '
          'product tiles under %d multiply-adds'
          % (fast_layers._NUM_THREADS, fast_layers._CHUNK_BYTES, fast_layers._TILE_MACS))
    if not args.skip_naive:
        naive_vs_fast(max(3, args.repeats // 2))
    fast_vs_torch(args.repeats, threads)


if __name__ == '__main__':
    main()
