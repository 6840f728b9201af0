"""Concurrent ``segment`` calls give the sequential results.

Twenty calls run at once from threads and from two worker processes. The "amg"
solver is included on graphs big enough for pyamg to build a hierarchy: pyamg
draws from the global NumPy RNG, which ``_embedding._isolated_global_rng``
seeds, restores and guards with a lock, so threads cannot interleave draws.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from specseg import segment

N_CALLS = 20
SOLVERS = ["amg", "lobpcg", "arpack", "dense"]
ASSIGN = ["cluster_qr", "kmeans", "discretize"]


def call_arguments(i):
    """The i-th call: its own image, solver, assignment and seed."""
    rng = np.random.default_rng(100 + i)
    side = 24 if i % 2 == 0 else 16  # 576 pixels: above pyamg's coarse size of 500
    image = np.zeros((side, side))
    image[: side // 2, : side // 2] = 1.0
    image[side // 2 :, side // 3 :] = 2.0
    image += 0.3 * rng.standard_normal(image.shape)
    kwargs = {
        "solver": SOLVERS[i % len(SOLVERS)],
        "assign": ASSIGN[i % len(ASSIGN)],
        "random_state": i,
    }
    return image, 3, kwargs


@pytest.fixture(scope="module")
def sequential():
    return [segment(image, k, **kwargs) for image, k, kwargs in map(call_arguments,
                                                                     range(N_CALLS))]


def test_calls_cover_amg_on_a_real_hierarchy():
    amg = [call_arguments(i) for i in range(N_CALLS) if call_arguments(i)[2]["solver"] == "amg"]
    assert len(amg) >= 5 and all(image.size > 500 for image, _, _ in amg)


def test_threads_give_the_sequential_results(sequential):
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(segment, image, k, **kwargs)
                   for image, k, kwargs in map(call_arguments, range(N_CALLS))]
        results = [future.result() for future in futures]
    for i, (got, want) in enumerate(zip(results, sequential, strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"call {i}")


def test_threads_keep_the_global_rng_untouched(sequential):
    np.random.seed(3)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    amg_calls = [i for i in range(N_CALLS) if call_arguments(i)[2]["solver"] == "amg"]
    with ThreadPoolExecutor(max_workers=len(amg_calls)) as pool:
        futures = {i: pool.submit(segment, *call_arguments(i)[:2], **call_arguments(i)[2])
                   for i in amg_calls}
    for i, future in futures.items():
        np.testing.assert_array_equal(future.result(), sequential[i])
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_processes_give_the_sequential_results(sequential):
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(segment, image, k, **kwargs)
                   for image, k, kwargs in map(call_arguments, range(N_CALLS))]
        results = [future.result() for future in futures]
    for i, (got, want) in enumerate(zip(results, sequential, strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"call {i}")
